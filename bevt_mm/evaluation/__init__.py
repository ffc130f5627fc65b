"""Evaluation: metrics over readable samples, and frozen-encoder probes.

:class:`RobustEvaluator` leaves unreadable val/test samples out of the metrics
and says so. The probe functions (pooled features, k-NN (DINO) and
linear-probe top-1) are used by :class:`~bevt_mm.engine.hooks.ProbeHook`
during pretraining and by ``tools/analysis/probe.py`` on saved checkpoints.
"""
from .encoder import backbone_state_dict, checkpoint_kind, load_encoder_weights
from .features import (TOY_PRETRAIN_CLIP, bevt_features, build_probe_loader, extract_features,
                       recognizer_features)
from .knn import DEFAULT_K, DEFAULT_TEMPERATURE, knn_top1, knn_votes
from .linear import (LINEAR_LR, LINEAR_STEPS, LINEAR_WEIGHT_DECAY, linear_probe_top1,
                     standardize, train_linear_probe)
from .robust_evaluator import RobustEvaluator

__all__ = ['backbone_state_dict', 'checkpoint_kind', 'load_encoder_weights', 'TOY_PRETRAIN_CLIP',
           'bevt_features', 'build_probe_loader', 'extract_features', 'recognizer_features',
           'DEFAULT_K', 'DEFAULT_TEMPERATURE', 'knn_top1', 'knn_votes', 'LINEAR_LR',
           'LINEAR_STEPS', 'LINEAR_WEIGHT_DECAY', 'linear_probe_top1', 'standardize',
           'train_linear_probe', 'RobustEvaluator']
