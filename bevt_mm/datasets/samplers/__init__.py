"""Samplers, registered in ``mmaction.registry.DATA_SAMPLERS``."""
from .dual_dataset_sampler import DualDatasetSampler

__all__ = ['DualDatasetSampler']
