"""Analysis tools (temporal dependence of a recognizer, pictures of BEVT's masks)."""
from .mask_visualization import visualize_masks
from .temporal_dependence import (DEFAULT_SETTINGS, insert_transform, insertion_index,
                                  run_temporal_dependence)

__all__ = ['DEFAULT_SETTINGS', 'insert_transform', 'insertion_index', 'run_temporal_dependence',
           'visualize_masks']
