"""BEVT transforms, registered in ``mmaction.registry.TRANSFORMS``."""
from .formatting import PackBEVTInputs
from .loading import CheckVideoLength, DecodeError, LoadImageAsClip
from .masking import BlockMaskGenerator, TubeMaskGenerator, block_mask
from .tokenizer_view import TokenizerView

__all__ = ['BlockMaskGenerator', 'CheckVideoLength', 'DecodeError', 'LoadImageAsClip',
           'PackBEVTInputs', 'TokenizerView', 'TubeMaskGenerator', 'block_mask']
from .temporal import ShuffleFrames, SingleFrame  # noqa: F401,E402
