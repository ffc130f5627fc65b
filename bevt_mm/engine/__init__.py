"""BEVT engine pieces: hooks, optimizer constructors, atomic checkpoint writes, CLI glue."""
from . import atomic_backend, hooks, loops, optimizers, schedulers  # noqa: F401
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper  # noqa: F401
from .launch import check_load_from, merge_test_args, merge_train_args  # noqa: F401
