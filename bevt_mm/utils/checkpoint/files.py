"""Checkpoint files for the command-line converters (``tools/convert/*``)."""
import os
import os.path as osp
import sys
from typing import Any, Dict

import torch

from ..safe_load import UntrustedCheckpointError, load_checkpoint_file


def read_checkpoint(path: str) -> Any:
    """Load a checkpoint on CPU, restricted (:mod:`bevt_mm.utils.safe_load`).

    Exits with the reason (file missing; or the refused global and the
    opt-in ``BEVT_TRUST_CHECKPOINTS=1``) instead of a traceback.

    Args:
        path (str): The checkpoint file.

    Returns:
        Any: The unpickled checkpoint.
    """
    if not osp.isfile(path):
        sys.exit(f'error: {path} not found')
    try:
        return load_checkpoint_file(path)
    except UntrustedCheckpointError as err:
        sys.exit(f'error: {err}')


def write_state_dict(state_dict: Dict[str, torch.Tensor], path: str, **meta: Any) -> None:
    """Save ``dict(state_dict=..., meta=...)`` to ``path`` and print a summary.

    Args:
        state_dict (dict): The converted tensors.
        path (str): Output file (its folder is created).
        **meta: Recorded under ``meta`` (source file, converter, options).
    """
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(dict(state_dict=state_dict, meta=meta), path)
    print(f'saved {len(state_dict)} tensors to {path}')
