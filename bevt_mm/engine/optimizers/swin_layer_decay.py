"""Layer-wise learning-rate decay for Video Swin (BEVT fine-tuning recipe).

Two rules, chosen by ``paramwise_cfg['layer_decay_rule']``:

``'released'`` (default): the authors' released K400 fine-tuning config
(xyzforever/BEVT ``swin_base_patch244_window877_bevt_finetune_k400.py``). It
is an explicit mmcv-1.x ``custom_keys`` table; walking down from the head
(lr x1), every unit gets one more power of the rate: ``backbone.norm`` (the
final norm, ``norm3`` in MMAction2) x rate with no weight decay, the last
block x rate, ... where each patch merging (``layers.i.downsample``) is a
unit of its own, down to ``patch_embed``. For Swin-B (depths 2-2-18-2):
``layers.3.blocks.1`` rate^1, ``layers.3.blocks.0`` rate^2,
``layers.2.downsample`` rate^3, ``layers.2.blocks.17`` rate^4, ...
``layers.0.blocks.0`` rate^27, ``patch_embed`` rate^28. This constructor
generates that table from the backbone's ``depths`` and hands it, merged with
the config's own ``custom_keys``, to mmengine's
:class:`DefaultOptimWrapperConstructor`, which matches keys exactly as mmcv
1.x did: the longest key that is a substring of the parameter name wins, and a
matched parameter ignores ``norm_decay_mult`` and the other global rules. So
the released config's effective multipliers are reproduced, quirks included
(as in the authors' runs): ``relative_position_bias_table`` (28 characters) is
longer than every block key, so relative tables get lr x1 and no weight decay;
norms inside blocks, patch merging and patch embedding match their unit's key
before ``norm``, so they get that unit's lr and keep weight decay.

``'per_block'``: mmpretrain's :class:`LearningRateDecayOptimWrapperConstructor`
with depths from Video Swin names: patch embeddings and the mask token depth
0, block ``j`` of stage ``i`` depth ``sum(depths[:i]) + j + 1``, a patch
merging shares its stage's last block, the final norm and the head are the
top (lr x1). mmpretrain's exemptions apply by module type
(``norm_decay_mult``) and ``custom_keys`` only set ``decay_mult``. The toy
fine-tuning configs use it.

Config::

    optim_wrapper = dict(
        constructor='SwinLayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.001),
        paramwise_cfg=dict(
            layer_decay_rate=0.9,  # layer_decay_rule='released' by default
            custom_keys={'norm': dict(decay_mult=0.0), ...}))
"""
import copy
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from torch import nn

from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS

RULES = ('released', 'per_block')


def released_swin_lr_decay_keys(depths: Sequence[int], decay_rate: float,
                                prefix: str = 'backbone.') -> Dict[str, dict]:
    """The released config's layer-decay ``custom_keys`` table for a Video Swin.

    Args:
        depths: Blocks per stage, e.g. ``(2, 2, 18, 2)``.
        decay_rate: Factor per unit (0.9 in the released K400 config).
        prefix: Name prefix of the backbone inside the model.

    Returns:
        dict: ``{key: dict(lr_mult=...)}``; ``{prefix}norm`` (the final norm) also
        carries ``decay_mult=0.0`` as in the released table. Keys are matched as
        substrings of parameter names, longest first (mmcv 1.x / mmengine).
    """
    units = [f'{prefix}patch_embed']
    for stage, depth in enumerate(depths):
        units += [f'{prefix}layers.{stage}.blocks.{j}' for j in range(depth)]
        if stage < len(depths) - 1:
            units.append(f'{prefix}layers.{stage}.downsample')
    keys = {f'{prefix}norm': dict(lr_mult=decay_rate, decay_mult=0.0)}
    for power, unit in enumerate(reversed(units), start=1):
        keys[unit] = dict(lr_mult=decay_rate**power)
    return keys


def video_swin_layer_depth(param_name: str, depths: Sequence[int],
                           prefix: str = 'backbone.') -> Tuple[int, int]:
    """Layer depth of a parameter under the ``'per_block'`` rule.

    Args:
        param_name: Full parameter name, e.g. ``backbone.layers.2.blocks.5.mlp.fc1.weight``.
        depths: Blocks per stage of the backbone.
        prefix: Name prefix of the backbone inside the model.

    Returns:
        tuple: ``(layer_depth, num_layers)`` as mmpretrain's constructor expects.
    """
    num_layers = sum(depths) + 2
    if not param_name.startswith(prefix):
        return num_layers - 1, num_layers
    name = param_name[len(prefix):]
    parts = name.split('.')
    if parts[0].startswith('patch_embed') or parts[0] == 'mask_token':
        return 0, num_layers
    if parts[0] == 'layers':
        stage = int(parts[1])
        if parts[2] == 'blocks':
            return sum(depths[:stage]) + int(parts[3]) + 1, num_layers
        return sum(depths[:stage + 1]), num_layers  # downsample after the stage
    return num_layers - 1, num_layers


def _swin_depths(model: nn.Module) -> List[int]:
    model = model.module if is_model_wrapper(model) else model
    backbone = getattr(model, 'backbone', None)
    depths = getattr(backbone, 'depths', None)
    if depths is None:
        raise TypeError(
            'SwinLayerDecayOptimWrapperConstructor needs a model with a Video Swin '
            f'`backbone` (with `depths`); got {type(model).__name__} whose backbone is '
            f'{type(backbone).__name__}. Use mmpretrain\'s '
            'LearningRateDecayOptimWrapperConstructor for models with get_layer_depth.')
    return list(depths)


class _PerBlockSwinLayerDecay(LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-wise decay with :func:`video_swin_layer_depth`."""

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   get_layer_depth: Optional[Callable] = None, **kwargs) -> None:
        if get_layer_depth is None and prefix == '':
            depths = _swin_depths(module)

            def get_layer_depth(name: str) -> Tuple[int, int]:
                return video_swin_layer_depth(name, depths)

        super().add_params(params, module, prefix=prefix, get_layer_depth=get_layer_depth,
                           **kwargs)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SwinLayerDecayOptimWrapperConstructor:
    """Layer-wise lr decay for models with a Video Swin ``backbone``.

    Args:
        optim_wrapper_cfg: As mmengine's ``DefaultOptimWrapperConstructor``.
        paramwise_cfg: ``layer_decay_rate`` (required), ``layer_decay_rule``
            (``'released'``, default, or ``'per_block'``; see the module
            docstring) and the keys of the rule's base constructor
            (``custom_keys`` for both; ``norm_decay_mult`` etc. apply to
            parameters that no custom key matches).

    Raises:
        ValueError: ``layer_decay_rate`` missing or an unknown rule.
        TypeError: the model has no Video Swin backbone (at build time).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = copy.deepcopy(dict(paramwise_cfg or {}))
        self.rule = paramwise_cfg.pop('layer_decay_rule', 'released')
        if self.rule not in RULES:
            raise ValueError(f'optim_wrapper.paramwise_cfg.layer_decay_rule must be one of '
                             f'{RULES}, got {self.rule!r}')
        if 'layer_decay_rate' not in paramwise_cfg:
            raise ValueError('SwinLayerDecayOptimWrapperConstructor needs '
                             'optim_wrapper.paramwise_cfg.layer_decay_rate (e.g. 0.9)')
        self.optim_wrapper_cfg = optim_wrapper_cfg
        self.paramwise_cfg = paramwise_cfg

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if self.rule == 'per_block':
            return _PerBlockSwinLayerDecay(copy.deepcopy(self.optim_wrapper_cfg),
                                           dict(self.paramwise_cfg))(model)
        paramwise_cfg = dict(self.paramwise_cfg)
        rate = paramwise_cfg.pop('layer_decay_rate')
        table = released_swin_lr_decay_keys(_swin_depths(model), rate)
        table.update(paramwise_cfg.get('custom_keys', {}))  # the config's own keys win
        paramwise_cfg['custom_keys'] = table
        return DefaultOptimWrapperConstructor(copy.deepcopy(self.optim_wrapper_cfg),
                                              paramwise_cfg)(model)
