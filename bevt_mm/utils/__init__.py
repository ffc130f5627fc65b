"""Low-level helpers shared by every layer (models, datasets, engine)."""
from .safe_load import UntrustedCheckpointError, load_checkpoint_file

__all__ = ['UntrustedCheckpointError', 'load_checkpoint_file']
