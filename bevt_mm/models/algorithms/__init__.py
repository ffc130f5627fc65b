"""Algorithms: BEVT pretraining."""
from .bevt import BEVT

__all__ = ['BEVT']
