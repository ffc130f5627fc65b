"""Frozen-encoder evaluation: pooled features, k-NN (DINO) and linear-probe top-1.

Pure functions used by :class:`~bevt_mm.engine.hooks.ProbeHook` during
pretraining and by ``tools/analysis/probe.py`` on saved checkpoints.
"""
from .encoder import backbone_state_dict, checkpoint_kind, load_encoder_weights
from .features import (TOY_PRETRAIN_CLIP, bevt_features, build_probe_loader, extract_features,
                       recognizer_features)
from .knn import DEFAULT_K, DEFAULT_TEMPERATURE, knn_top1, knn_votes
from .linear import (LINEAR_LR, LINEAR_STEPS, LINEAR_WEIGHT_DECAY, linear_probe_top1,
                     standardize, train_linear_probe)

__all__ = ['backbone_state_dict', 'checkpoint_kind', 'load_encoder_weights', 'TOY_PRETRAIN_CLIP',
           'bevt_features', 'build_probe_loader', 'extract_features', 'recognizer_features',
           'DEFAULT_K', 'DEFAULT_TEMPERATURE', 'knn_top1', 'knn_votes', 'LINEAR_LR',
           'LINEAR_STEPS', 'LINEAR_WEIGHT_DECAY', 'linear_probe_top1', 'standardize',
           'train_linear_probe']
