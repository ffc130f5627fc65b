"""BEVT engine pieces: hooks and optimizer constructors."""
from . import hooks, optimizers  # noqa: F401
