"""A recognizer config's backbone with weights from any checkpoint kind the project makes.

:func:`load_encoder_weights` accepts (detected from the keys):

* ``bevt``: a ``BEVT`` pretraining checkpoint (``backbone.*`` with
  ``patch_embed_2d``/``mask_token``, ``head.*``): converted with
  :func:`~bevt_mm.utils.checkpoint.bevt_to_mmaction_swin`
  (decoder norm as the final norm, relative tables resized to the
  recognizer's window), exactly as ``tools/convert/bevt_to_mmaction_swin.py``;
* ``recognizer``: a stock MMAction2 recognizer checkpoint (``backbone.*``,
  ``cls_head.*``): its ``backbone.*`` part;
* ``backbone``: an exported backbone (bare keys, e.g. ``bevt_backbone.pth``).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor

from bevt_mm.models.tokenizers.base import extract_state_dict
from bevt_mm.utils.checkpoint import bevt_to_mmaction_swin

#: buffers that a backbone rebuilds; never required from a checkpoint
_DERIVED = ('relative_position_index', 'attn_mask')


def checkpoint_kind(state_dict: Dict[str, Tensor]) -> str:
    """``'bevt'``, ``'recognizer'`` or ``'backbone'`` (see the module docstring)."""
    keys = list(state_dict)
    if any(k.startswith(('backbone.patch_embed_2d.', 'backbone.mask_token')) for k in keys) \
            and any(k.startswith('head.') for k in keys):
        return 'bevt'
    if any(k.startswith('backbone.') for k in keys):
        return 'recognizer'
    return 'backbone'


def backbone_state_dict(path: str, window_size: Sequence[int],
                        src_window_size: Optional[Sequence[int]] = None
                        ) -> Tuple[Dict[str, Tensor], str]:
    """Backbone weights (no prefix) from ``path`` and the detected kind.

    Args:
        path (str): Checkpoint file (local path or any URI mmengine loads).
        window_size (Sequence[int]): Window of the recognizer's backbone.
        src_window_size (Sequence[int], optional): Window of a BEVT
            pretraining checkpoint when it differs. Defaults to ``window_size``.

    Returns:
        tuple[dict, str]: State dict and kind.
    """
    raw = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    try:
        sd = extract_state_dict(raw, prefixes=('module.', ))
    except TypeError as err:
        raise ValueError(f'{path}: no state dict of tensors found ({err}); expected a BEVT, '
                         'MMAction2 recognizer or exported backbone checkpoint') from None
    kind = checkpoint_kind(sd)
    if kind == 'bevt':
        sd = bevt_to_mmaction_swin(sd, window_size=tuple(src_window_size or window_size),
                                   new_window_size=tuple(window_size))
    elif kind == 'recognizer':
        sd = {k[len('backbone.'):]: v for k, v in sd.items() if k.startswith('backbone.')}
    return sd, kind


def load_encoder_weights(model: torch.nn.Module, path: str,
                         src_window_size: Optional[Sequence[int]] = None) -> str:
    """Load ``path`` into ``model.backbone`` (a recognizer); return the kind.

    Raises:
        ValueError: When backbone parameters are missing from the checkpoint
            or have other shapes (names the file and the first keys).
    """
    window = getattr(model.backbone, 'window_size', None)
    sd, kind = backbone_state_dict(path, window or (8, 7, 7), src_window_size)
    own = model.backbone.state_dict()
    wrong = [k for k, v in sd.items() if k in own and own[k].shape != v.shape]
    missing = [k for k in own if k not in sd and k.rsplit('.', 1)[-1] not in _DERIVED]
    if wrong or missing:
        raise ValueError(
            f'{path} ({kind} checkpoint) does not fit the config\'s backbone: '
            f'missing {missing[:5]}{"..." if len(missing) > 5 else ""}, other shapes '
            f'{wrong[:5]}; use the recognizer config the checkpoint was made for '
            '(or --src-window-size for a BEVT checkpoint with another window)')
    model.backbone.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=False)
    return kind
