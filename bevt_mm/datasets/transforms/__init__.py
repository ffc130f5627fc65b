"""BEVT transforms, registered in ``mmaction.registry.TRANSFORMS``."""
from .formatting import PackBEVTInputs
from .loading import CheckVideoLength, DecodeError, LoadImageAsClip
from .masking import BlockMaskGenerator, TubeMaskGenerator, block_mask
from .tokenizer_view import TokenizerView
from .video_decode import TorchCodecDecode, TorchCodecInit, VideoDecode, VideoInit

__all__ = ['BlockMaskGenerator', 'CheckVideoLength', 'DecodeError', 'LoadImageAsClip',
           'PackBEVTInputs', 'TokenizerView', 'TorchCodecDecode', 'TorchCodecInit',
           'TubeMaskGenerator', 'VideoDecode', 'VideoInit', 'block_mask']
from .temporal import ShuffleFrames, SingleFrame  # noqa: F401,E402
