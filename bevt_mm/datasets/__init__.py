"""BEVT data: datasets, transforms (masks, tokenizer view) and samplers."""
from . import samplers, transforms  # noqa: F401
from .image_list import ImageListDataset
from .robust import RobustLoadingMixin
from .video_dataset import RobustVideoDataset

__all__ = ['ImageListDataset', 'RobustLoadingMixin', 'RobustVideoDataset']
