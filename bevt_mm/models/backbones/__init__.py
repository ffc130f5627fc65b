"""Backbones: Video Swin with BEVT's image and video streams."""
from .bevt_swin import BEVTSwinTransformer3D, PatchEmbed2D, upsample_mask
from .bevt_timesformer import BEVTTimeSformer
from .swin_attention import BEVTSwinBlock3D, BEVTWindowAttention3D

__all__ = ['BEVTSwinTransformer3D', 'BEVTTimeSformer', 'BEVTSwinBlock3D',
           'BEVTWindowAttention3D', 'PatchEmbed2D', 'upsample_mask']
