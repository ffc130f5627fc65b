"""BEVT TimeSformer pretraining checkpoint -> stock MMAction2 TimeSformer."""
from typing import Any, Optional

import torch.nn.functional as F
from torch import Tensor

from .state_dict import StateDict, get_state_dict

#: keys every divided space-time TimeSformer backbone has
_REQUIRED = ('cls_token', 'pos_embed', 'time_embed', 'patch_embed.projection.weight',
             'norm.weight', 'transformer_layers.layers.0.attentions.1.attn.in_proj_weight')
#: image-stream / pretraining-only keys that a stock TimeSformer lacks
_PRETRAIN_ONLY = ('patch_embed_2d.', 'mask_token')


def resize_time_embed(time_embed: Tensor, num_frames: int) -> Tensor:
    """Linearly interpolate a ``(1, T, C)`` time embedding to ``num_frames``.

    Args:
        time_embed (Tensor): ``(1, T, C)``.
        num_frames (int): New length.

    Returns:
        Tensor: ``(1, num_frames, C)`` (the input itself if T already fits).
    """
    if time_embed.shape[1] == num_frames:
        return time_embed
    resized = F.interpolate(time_embed.transpose(1, 2).float(), size=num_frames,
                            mode='linear', align_corners=False)
    return resized.transpose(1, 2).to(time_embed.dtype)


def bevt_to_mmaction_timesformer(checkpoint: Any,
                                 num_frames: Optional[int] = None) -> StateDict:
    """Our TimeSformer pretraining checkpoint -> stock ``TimeSformer`` keys.

    Takes the ``backbone.*`` keys of a ``BEVT`` checkpoint (or a bare
    ``BEVTTimeSformer`` state dict) and drops the pretraining-only
    ``patch_embed_2d`` and ``mask_token``; head (classifier) keys are left
    out. The final ``norm`` is the backbone's own: it normalized the tokens
    that the token classifier saw in pretraining, and it is the norm the
    stock TimeSformer applies before taking the cls token.

    Args:
        checkpoint (Any): A ``BEVT`` checkpoint or a backbone state dict.
        num_frames (int, optional): Frames of the fine-tuning recipe if they
            differ from pretraining; ``time_embed`` is linearly interpolated.
            Defaults to None.

    Returns:
        dict[str, Tensor]: Backbone state dict (no ``backbone.`` prefix).

    Raises:
        KeyError: Not a divided space-time TimeSformer backbone.
    """
    sd = get_state_dict(checkpoint, 'backbone.')
    missing = [k for k in _REQUIRED if k not in sd]
    if missing:
        raise KeyError(f'not a divided space-time TimeSformer backbone (missing {missing}); '
                       'for Video Swin checkpoints use bevt_to_mmaction_swin')
    out = {k: v for k, v in sd.items() if not k.startswith(_PRETRAIN_ONLY)}
    if num_frames is not None:
        out['time_embed'] = resize_time_embed(out['time_embed'], num_frames)
    return out
