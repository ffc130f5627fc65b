"""Layer-wise learning-rate decay for Video Swin (BEVT fine-tuning recipe).

mmpretrain's :class:`LearningRateDecayOptimWrapperConstructor` implements the
decay but asks the model for ``get_layer_depth``, which MMAction2 recognizers
and ``SwinTransformer3D`` do not have. This constructor supplies the depth of
each parameter from Video Swin's parameter names, so stock MMAction2 Swin
recipes (and our BEVT backbone) get the decay by one config line::

    optim_wrapper = dict(
        constructor='SwinLayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.001),
        paramwise_cfg=dict(
            layer_decay_rate=0.9,
            norm_decay_mult=0.0,
            custom_keys={'relative_position_bias_table': dict(decay_mult=0.0)}))

Depths: patch embeddings and the mask token are depth 0; block ``j`` of stage
``i`` is ``sum(depths[:i]) + j + 1``; the patch merging after stage ``i`` shares
the depth of that stage's last block; everything else (final norm, head) is
the top, ``sum(depths) + 1``, and keeps the base lr.
"""
from typing import Callable, List, Optional, Sequence, Tuple

from mmengine.model import is_model_wrapper
from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from torch import nn

from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS


def video_swin_layer_depth(param_name: str, depths: Sequence[int],
                           prefix: str = 'backbone.') -> Tuple[int, int]:
    """Layer depth of a parameter of a model with a Video Swin backbone.

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


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SwinLayerDecayOptimWrapperConstructor(LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-wise lr decay with Video Swin parameter depths.

    ``paramwise_cfg`` takes the keys of mmpretrain's constructor
    (``layer_decay_rate``, ``norm_decay_mult``, ``bias_decay_mult``,
    ``flat_decay_mult``, ``custom_keys`` with ``decay_mult``).
    """

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   get_layer_depth: Optional[Callable] = None, **kwargs) -> None:
        if get_layer_depth is None and prefix == '':
            model = module.module if is_model_wrapper(module) else module
            backbone = getattr(model, 'backbone', None)
            depths = getattr(backbone, 'depths', None)
            if depths is None:
                raise TypeError(
                    'SwinLayerDecayOptimWrapperConstructor needs a model with a Video Swin '
                    f'`backbone` (with `depths`); got {type(model).__name__} whose backbone is '
                    f'{type(backbone).__name__}. Use mmpretrain\'s '
                    'LearningRateDecayOptimWrapperConstructor for models with get_layer_depth.')
            depths = list(depths)

            def get_layer_depth(name: str) -> Tuple[int, int]:
                return video_swin_layer_depth(name, depths)

        super().add_params(params, module, prefix=prefix, get_layer_depth=get_layer_depth,
                           **kwargs)
