"""Load/save helpers shared by the converters."""
import os
import os.path as osp
import sys
from typing import Any, Dict

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

from bevt_mm.utils.safe_load import UntrustedCheckpointError, load_checkpoint_file  # noqa: E402


def load(path: str) -> Any:
    """Load a checkpoint on CPU, restricted (:mod:`bevt_mm.utils.safe_load`).

    Exits with the refusal (file, refused global, the opt-in
    ``BEVT_TRUST_CHECKPOINTS=1``) if its pickle needs more than weights.
    """
    if not osp.isfile(path):
        sys.exit(f'error: {path} not found')
    try:
        return load_checkpoint_file(path)
    except UntrustedCheckpointError as err:
        sys.exit(f'error: {err}')


def save(state_dict: Dict[str, torch.Tensor], path: str, **meta: Any) -> None:
    """Save ``dict(state_dict=..., meta=...)`` and print a summary."""
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(dict(state_dict=state_dict, meta=meta), path)
    print(f'saved {len(state_dict)} tensors to {path}')
