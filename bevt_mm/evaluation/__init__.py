"""BEVT evaluation: an evaluator that leaves unreadable samples out of the metrics."""
from .robust_evaluator import RobustEvaluator

__all__ = ['RobustEvaluator']
