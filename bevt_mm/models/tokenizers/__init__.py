"""Frozen tokenizers (BEVT's target generators); see :mod:`.base`."""
from .base import BaseTokenizer, TokenizerCheckpointError, map_pixels, unmap_pixels
from .vqvae import VQVAETokenizer

__all__ = ['BaseTokenizer', 'TokenizerCheckpointError', 'VQVAETokenizer', 'map_pixels',
           'unmap_pixels']
