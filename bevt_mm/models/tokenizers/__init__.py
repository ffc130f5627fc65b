"""Frozen tokenizers (BEVT's target generators); see :mod:`.base`."""
from .base import BaseTokenizer, TokenizerCheckpointError, map_pixels, unmap_pixels
from .dalle import DALLETokenizer, load_dalle_state_dict
from .vqkd import VQKDTokenizer
from .vqvae import VQVAETokenizer
from .vqvae_training import evaluate_vqvae, train_vqvae

__all__ = ['BaseTokenizer', 'DALLETokenizer', 'TokenizerCheckpointError', 'VQKDTokenizer',
           'VQVAETokenizer', 'evaluate_vqvae', 'load_dalle_state_dict', 'map_pixels', 'train_vqvae',
           'unmap_pixels']
