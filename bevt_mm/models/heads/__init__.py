"""Heads: BEVT decoders, shared token classifier and masked loss."""
from .bevt_decoders import ImageDecoder, VideoDecoder
from .bevt_head import BEVTHead
from .bevt_plain_head import BEVTPlainHead

__all__ = ['BEVTHead', 'BEVTPlainHead', 'ImageDecoder', 'VideoDecoder']
