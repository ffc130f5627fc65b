"""How much of a video backbone a checkpoint provides; too little is an error."""
from typing import Dict, List, Tuple

from torch import Tensor, nn

from .state_dict import StateDict

#: smallest fraction of the backbone's tensors a load must find
MIN_MATCH = 0.5

#: what to run for each backbone family
CONVERTERS = {
    'swin': ('python tools/convert/bevt_to_mmaction_swin.py SRC.pth OUT.pth, then '
             'model.backbone.pretrained=OUT.pth'),
    'timesformer': ('python tools/convert/bevt_timesformer_to_mmaction.py SRC.pth OUT.pth, '
                    'then load_from=OUT.pth or model.backbone.pretrained=OUT.pth'),
}


class BackboneCheckpointError(ValueError):
    """A checkpoint that would leave most of a backbone at its random init."""


def is_pretraining_checkpoint(state_dict: Dict[str, Tensor]) -> bool:
    """Whether ``state_dict`` is a BEVT pretraining model or backbone (not an export).

    Args:
        state_dict (dict[str, Tensor]): A model or backbone state dict, with or
            without the ``backbone.`` prefix.

    Returns:
        bool: True if it holds the image stream (``patch_embed_2d``), the
        mask token or the BEVT token classifier (``head.classifier``).
    """
    return any(k.startswith(('backbone.patch_embed_2d.', 'patch_embed_2d.', 'head.classifier.'))
               or k in ('backbone.mask_token', 'mask_token') for k in state_dict)


def match_backbone(state_dict: StateDict, backbone: nn.Module) -> Tuple[List[str], int]:
    """The backbone's tensors that ``state_dict`` provides with their name and shape.

    Args:
        state_dict (dict): Keys of the backbone (no prefix).
        backbone (nn.Module): The backbone.

    Returns:
        tuple[list[str], int]: The names found, and the number of tensors of
        the backbone (parameters and persistent buffers).
    """
    own = backbone.state_dict()
    found = [k for k, v in own.items()
             if k in state_dict and tuple(state_dict[k].shape) == tuple(v.shape)]
    return found, len(own)


def check_backbone_match(state_dict: StateDict, backbone: nn.Module, source: str,
                         family: str, prefix: str = '') -> Tuple[int, int]:
    """Count the backbone's tensors that ``state_dict`` provides; refuse too few.

    Args:
        state_dict (dict): Keys of the backbone (no prefix).
        backbone (nn.Module): The backbone.
        source (str): The file or key prefix, for the message.
        family (str): ``'swin'`` or ``'timesformer'`` (the converter named).
        prefix (str): The backbone's key prefix in a recognizer load
            (``'backbone.'``); a checkpoint with no key under it (e.g. a bare
            backbone export given as a test checkpoint) gets its own message.

    Returns:
        tuple[int, int]: (tensors found with their name and shape, tensors of
        the backbone).

    Raises:
        BackboneCheckpointError: Fewer than :data:`MIN_MATCH` found; names the
            source, the counts, sample keys of both sides and the converter.
    """
    found, total = match_backbone(state_dict, backbone)
    if total and len(found) < MIN_MATCH * total:
        own = backbone.state_dict()
        if prefix and not state_dict:
            raise BackboneCheckpointError(
                f'{source}: only 0 of the {total} tensors of the {type(backbone).__name__} '
                f'backbone found: no key starts with {prefix!r}, so this is not a checkpoint of '
                f'this model. A bare backbone (an exported encoder: keys without {prefix!r}) '
                'is a starting point for fine-tuning: train with '
                'model.backbone.pretrained=THIS_FILE, then test the trained checkpoint '
                '(WORK_DIR/epoch_N.pth).')
        shapes = [k for k in own if k in state_dict and k not in found][:3]
        raise BackboneCheckpointError(
            f'{source}: only {len(found)} of the {total} tensors of the '
            f'{type(backbone).__name__} backbone found in this checkpoint (name and shape; '
            f'at least {MIN_MATCH:.0%} needed), so the model would be mostly random init. '
            f'Checkpoint keys look like {list(state_dict)[:3]}, the backbone expects '
            f'{list(own)[:3]}'
            + (f'; shapes differ for {shapes} (another arch or window?)' if shapes else '')
            + f'. A BEVT pretraining checkpoint or its export is taken as is; for other '
            f'layouts convert it: {CONVERTERS[family]}.')
    return len(found), total
