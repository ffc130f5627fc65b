"""Frozen-encoder probes: pooled features, k-NN (DINO) and linear-probe top-1."""
from .encoder import backbone_state_dict, checkpoint_kind, load_encoder_weights
from .features import (bevt_features, build_probe_loader, extract_features,
                       recognizer_features)
from .knn import DEFAULT_K, DEFAULT_TEMPERATURE, knn_top1, knn_votes
from .linear import linear_probe_top1, standardize, train_linear_probe
from .run import run_probe

__all__ = ['backbone_state_dict', 'checkpoint_kind', 'load_encoder_weights', 'bevt_features',
           'build_probe_loader', 'extract_features', 'recognizer_features', 'DEFAULT_K',
           'DEFAULT_TEMPERATURE', 'knn_top1', 'knn_votes', 'linear_probe_top1', 'standardize',
           'train_linear_probe', 'run_probe']
