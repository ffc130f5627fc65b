"""Heads: BEVT decoders, shared token classifier and masked loss."""
from .bevt_decoders import ImageDecoder, VideoDecoder
from .bevt_head import BEVTHead

__all__ = ['BEVTHead', 'ImageDecoder', 'VideoDecoder']
