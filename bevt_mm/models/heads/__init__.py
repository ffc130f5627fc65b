"""Heads: BEVT's decoders, shared token classifier and masked loss."""
from .bevt_decoders import ImageDecoder, VideoDecoder
from .bevt_head import BEVTHead
from .bevt_plain_head import BEVTPlainHead
from .masked_token_head import MaskedTokenHead

__all__ = ['BEVTHead', 'BEVTPlainHead', 'ImageDecoder', 'MaskedTokenHead', 'VideoDecoder']
