"""Load/save helpers shared by the converters (checkpoints are trusted local files)."""
import os
import os.path as osp
from typing import Any, Dict

import torch


def load(path: str) -> Any:
    """Load a checkpoint on CPU (``weights_only=False``: a file the user chose)."""
    return torch.load(path, map_location='cpu', weights_only=False)


def save(state_dict: Dict[str, torch.Tensor], path: str, **meta: Any) -> None:
    """Save ``dict(state_dict=..., meta=...)`` and print a summary."""
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save(dict(state_dict=state_dict, meta=meta), path)
    print(f'saved {len(state_dict)} tensors to {path}')
