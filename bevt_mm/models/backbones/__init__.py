"""Backbones: Video Swin and TimeSformer with BEVT's image and video streams, and their
fine-tuning forms (the stock parameters with BEVT's checked loading)."""
from .bevt_swin import (BEVTFinetuneSwinTransformer3D, BEVTSwinTransformer3D, PatchEmbed2D,
                        upsample_mask)
from .bevt_timesformer import BEVTFinetuneTimeSformer, BEVTTimeSformer
from .checked_load import CheckedLoadMixin
from .swin_attention import BEVTSwinBlock3D, BEVTWindowAttention3D

__all__ = ['BEVTSwinTransformer3D', 'BEVTFinetuneSwinTransformer3D', 'BEVTTimeSformer',
           'BEVTFinetuneTimeSformer', 'CheckedLoadMixin', 'BEVTSwinBlock3D',
           'BEVTWindowAttention3D', 'PatchEmbed2D', 'upsample_mask']
