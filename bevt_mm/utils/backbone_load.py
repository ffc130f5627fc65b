"""Load BEVT weights into fine-tuning backbones: convert what needs it, refuse what does not fit.

mmengine and MMAction2 load checkpoints with ``strict=False`` and only warn
about keys that do not match: a raw BEVT pretraining checkpoint (``backbone.*``
and ``head.*`` keys, export step skipped) given as ``model.backbone.pretrained``
to a stock ``SwinTransformer3D`` matched none of its tensors, and fine-tuning
started from random init after one warning.

* :func:`prepare_backbone_state`: a BEVT pretraining checkpoint aimed at a
  fine-tuning backbone (stock ``SwinTransformer3D`` / ``TimeSformer`` or ours
  without image stream and mask token) is converted exactly as the export
  tools do (``tools/convert/bevt_to_mmaction_swin.py``: decoder norm as
  ``norm3``, relative tables resized to the backbone's window;
  ``tools/convert/bevt_timesformer_to_mmaction.py``: ``time_embed`` resized
  to the backbone's frames), so a raw checkpoint and its export load the
  same tensors; a ``backbone.`` prefix is dropped when the backbone itself
  loads.
* :func:`check_backbone_match`: fewer than :data:`MIN_MATCH` of the
  backbone's tensors found (same name and shape) raises
  :class:`BackboneCheckpointError` naming the file, the count and the
  converter.

:mod:`bevt_mm.compat` routes mmengine's ``load_state_dict`` (``load_from``,
``pretrained=`` through ``init_cfg``, ``init_cfg=Pretrained`` with a prefix)
and the stock TimeSformer's ``pretrained`` loader through these; our
backbones call them from their own loaders.
"""
from typing import Dict, Optional, Tuple

from torch import Tensor, nn

StateDict = Dict[str, Tensor]

#: smallest fraction of the backbone's tensors a load must find
MIN_MATCH = 0.5

#: what to run for each backbone family
CONVERTERS = {
    'swin': ('python tools/convert/bevt_to_mmaction_swin.py SRC.pth OUT.pth, then '
             'model.backbone.pretrained=OUT.pth (or load_from=OUT.pth after '
             '--prefix backbone.)'),
    'timesformer': ('python tools/convert/bevt_timesformer_to_mmaction.py SRC.pth OUT.pth, '
                    'then load_from=OUT.pth with model.backbone.pretrained=None'),
}


class BackboneCheckpointError(ValueError):
    """A checkpoint that would leave most of a backbone at its random init."""


def backbone_family(module: nn.Module) -> Optional[str]:
    """``'swin'`` or ``'timesformer'`` for MMAction2's video transformers (and
    our subclasses), else None."""
    from mmaction.models.backbones.swin import SwinTransformer3D
    from mmaction.models.backbones.timesformer import TimeSformer
    if isinstance(module, SwinTransformer3D):
        return 'swin'
    if isinstance(module, TimeSformer):
        return 'timesformer'
    return None


def is_pretraining_checkpoint(state_dict: StateDict) -> bool:
    """Whether ``state_dict`` is a BEVT pretraining model or backbone (not an
    export): the image stream, the mask token or the BEVT token classifier
    (``head.classifier``), with or without the ``backbone.`` prefix."""
    return any(k.startswith(('backbone.patch_embed_2d.', 'patch_embed_2d.', 'head.classifier.'))
               or k in ('backbone.mask_token', 'mask_token') for k in state_dict)


def checkpoint_family(state_dict: StateDict) -> Optional[str]:
    """``'swin'`` or ``'timesformer'`` from the backbone keys of a checkpoint."""
    keys = [k[9:] if k.startswith('backbone.') else k for k in state_dict]
    if any(k.startswith('transformer_layers.') for k in keys):
        return 'timesformer'
    if any(k.startswith('layers.') for k in keys):
        return 'swin'
    return None


def is_finetuning_backbone(backbone: nn.Module) -> bool:
    """A backbone without image stream and mask token (what an export fits)."""
    return (getattr(backbone, 'patch_embed_2d', None) is None
            and getattr(backbone, 'mask_token', None) is None)


def _source_window(table_rows: int, window_size: Tuple[int, int, int]) -> Tuple[int, int, int]:
    """Pretraining window of a relative table, assuming the spatial window of
    ``window_size`` (the recipes change only the temporal window)."""
    spatial = (2 * window_size[1] - 1) * (2 * window_size[2] - 1)
    if table_rows % spatial or (table_rows // spatial) % 2 == 0:
        raise BackboneCheckpointError(
            f'a relative position table of {table_rows} rows does not fit the spatial window '
            f'{tuple(window_size[1:])}: export with tools/convert/bevt_to_mmaction_swin.py '
            '--src-window-size and --window-size')
    return ((table_rows // spatial + 1) // 2, window_size[1], window_size[2])


def convert_pretraining(state_dict: StateDict, backbone: nn.Module) -> StateDict:
    """A BEVT pretraining state dict -> what the export tool writes for ``backbone``.

    Args:
        state_dict (dict): ``backbone.*`` and ``head.*`` keys.
        backbone (nn.Module): The fine-tuning backbone (Swin or TimeSformer).

    Returns:
        dict[str, Tensor]: Backbone keys without prefix.
    """
    from .checkpoint_convert import bevt_to_mmaction_swin
    from .timesformer_convert import bevt_to_mmaction_timesformer
    if backbone_family(backbone) == 'timesformer':
        return bevt_to_mmaction_timesformer(state_dict, num_frames=backbone.num_frames)
    window = tuple(backbone.window_size)
    tables = [v for k, v in state_dict.items() if k.endswith('relative_position_bias_table')
              and not k.startswith('head.')]
    src = _source_window(tables[0].shape[0], window) if tables else window
    src = tuple(getattr(backbone, 'pretrained_window_size', None) or src)
    # the export's default (decoder norm); a bare pretraining backbone has no decoder:
    # its own final norm if it kept one, else a plain LayerNorm
    if any(k in state_dict for k in ('head.norm.weight', 'head.video_norm.weight')):
        norm3 = 'decoder'
    else:
        last = f'norm{backbone.num_layers - 1}.weight'
        norm3 = 'backbone' if last in state_dict or f'backbone.{last}' in state_dict else 'fresh'
    return bevt_to_mmaction_swin(state_dict, window_size=src, norm3=norm3,
                                 new_window_size=window)


def prepare_backbone_state(state_dict: StateDict, backbone: nn.Module,
                           prefix: str = '') -> Tuple[StateDict, Optional[str]]:
    """Make ``state_dict`` loadable into ``backbone`` (at ``prefix`` of the loading module).

    Args:
        state_dict (dict): What the loader would load.
        backbone (nn.Module): A video backbone (see :func:`backbone_family`).
        prefix (str): ``''`` when the backbone itself loads (``pretrained``),
            ``'backbone.'`` when its recognizer loads (``load_from``).

    Returns:
        tuple: The state dict to load, and a note for the log (None if
        nothing changed).
    """
    if (is_pretraining_checkpoint(state_dict) and is_finetuning_backbone(backbone)
            and checkpoint_family(state_dict) == backbone_family(backbone)):
        converted = convert_pretraining(state_dict, backbone)
        prefixed = any(k.startswith('backbone.') for k in state_dict)
        rest = {k: v for k, v in state_dict.items()
                if prefixed and not k.startswith(('backbone.', 'head.'))}
        out = {**(rest if prefix else {}), **{prefix + k: v for k, v in converted.items()}}
        family = backbone_family(backbone)
        tool = ('bevt_to_mmaction_swin.py' if family == 'swin'
                else 'bevt_timesformer_to_mmaction.py')
        return out, (f'a BEVT pretraining checkpoint: converted on load as '
                     f'tools/convert/{tool} does ({len(converted)} backbone tensors; '
                     'image stream, mask token and decoders left out)')
    if not prefix and not any(k in backbone.state_dict() for k in state_dict) and any(
            k.startswith('backbone.') for k in state_dict):
        inside = {k[9:]: v for k, v in state_dict.items() if k.startswith('backbone.')}
        return inside, "keys under 'backbone.' taken (a recognizer or prefixed export)"
    return state_dict, None


def check_backbone_match(state_dict: StateDict, backbone: nn.Module, source: str,
                         prefix: str = '') -> Tuple[int, int]:
    """Count the backbone's tensors that ``state_dict`` provides; refuse too few.

    Args:
        state_dict (dict): What will be loaded.
        backbone (nn.Module): The backbone.
        source (str): The file, for the message.
        prefix (str): Prefix of the backbone's keys in ``state_dict``.

    Returns:
        tuple[int, int]: (tensors found with their name and shape, tensors of
        the backbone).

    Raises:
        BackboneCheckpointError: fewer than :data:`MIN_MATCH` found; names the
            file, the counts, sample keys of both sides and the converter.
    """
    own = backbone.state_dict()
    found = [k for k, v in own.items()
             if prefix + k in state_dict and tuple(state_dict[prefix + k].shape) == tuple(v.shape)]
    if own and len(found) < MIN_MATCH * len(own):
        family = backbone_family(backbone) or 'swin'
        theirs = [k for k in state_dict if k.startswith(prefix)][:3] or list(state_dict)[:3]
        shapes = [k for k in own if prefix + k in state_dict and k not in found][:3]
        raise BackboneCheckpointError(
            f'{source}: only {len(found)} of the {len(own)} tensors of the '
            f'{type(backbone).__name__} backbone found in this checkpoint (name and shape; '
            f'at least {MIN_MATCH:.0%} needed), so fine-tuning would start mostly from random '
            f'init. Checkpoint keys look like {theirs}, the backbone expects '
            f'{[prefix + k for k in list(own)[:3]]}'
            + (f'; shapes differ for {shapes} (another arch or window?)' if shapes else '')
            + f'. A BEVT pretraining checkpoint or its export is taken as is; for other '
            f'layouts convert it: {CONVERTERS[family]}.')
    return len(found), len(own)


def find_video_backbone(module: nn.Module) -> Tuple[Optional[nn.Module], str]:
    """The video backbone a load targets: the module itself (prefix ``''``),
    its ``backbone`` attribute (``'backbone.'``), or (None, '')."""
    if backbone_family(module):
        return module, ''
    inner = getattr(module, 'backbone', None)
    if isinstance(inner, nn.Module) and backbone_family(inner):
        return inner, 'backbone.'
    return None, ''
