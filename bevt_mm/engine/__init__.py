"""BEVT engine pieces: hooks, optimizer constructors and CLI glue."""
from . import hooks, optimizers  # noqa: F401
from .launch import merge_test_args, merge_train_args, select_dist_backend  # noqa: F401
