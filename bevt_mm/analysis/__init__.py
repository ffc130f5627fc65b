"""Analysis tools (temporal dependence of a recognizer)."""
from .temporal_dependence import (DEFAULT_SETTINGS, insert_transform, insertion_index,
                                  run_temporal_dependence)

__all__ = ['DEFAULT_SETTINGS', 'insert_transform', 'insertion_index', 'run_temporal_dependence']
