"""Layer-wise lr decay on a stock MMAction2 Video Swin recognizer."""
import pytest
from mmengine.optim import build_optim_wrapper

import bevt_mm  # noqa: F401
from bevt_mm.engine.optimizers import video_swin_layer_depth
from mmaction.registry import MODELS


def _recognizer():
    return MODELS.build(dict(
        type='Recognizer3D',
        backbone=dict(type='SwinTransformer3D',
                      arch=dict(embed_dims=8, depths=[1, 2, 1, 1], num_heads=[1, 1, 1, 1]),
                      pretrained=None, window_size=(2, 2, 2)),
        cls_head=dict(type='I3DHead', in_channels=64, num_classes=3)))


def test_depths_follow_video_swin_names():
    depths = [2, 2, 18, 2]
    assert video_swin_layer_depth('backbone.patch_embed.proj.weight', depths) == (0, 26)
    assert video_swin_layer_depth('backbone.layers.0.blocks.0.mlp.fc1.weight', depths) == (1, 26)
    assert video_swin_layer_depth('backbone.layers.2.blocks.17.norm1.weight', depths) == (22, 26)
    assert video_swin_layer_depth('backbone.layers.2.downsample.reduction.weight', depths) == (22, 26)
    assert video_swin_layer_depth('backbone.layers.3.blocks.1.attn.qkv.weight', depths) == (24, 26)
    assert video_swin_layer_depth('backbone.norm3.weight', depths) == (25, 26)
    assert video_swin_layer_depth('cls_head.fc_cls.weight', depths) == (25, 26)


def test_lr_and_weight_decay_per_parameter():
    model = _recognizer()
    wrapper = build_optim_wrapper(model, dict(
        constructor='SwinLayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        paramwise_cfg=dict(layer_decay_rate=0.5, norm_decay_mult=0.0,
                           custom_keys={'relative_position_bias_table': dict(decay_mult=0.0)})))
    groups = {g['param_name']: g for g in wrapper.optimizer.param_groups}
    assert len(groups) == len(list(model.named_parameters()))
    num_layers = 5 + 2
    assert groups['backbone.patch_embed.proj.weight']['lr'] == pytest.approx(0.5 ** (num_layers - 1))
    assert groups['backbone.layers.1.blocks.1.mlp.fc1.weight']['lr'] == pytest.approx(0.5 ** 3)
    assert groups['cls_head.fc_cls.weight']['lr'] == pytest.approx(1.0)
    table = groups['backbone.layers.0.blocks.0.attn.relative_position_bias_table']
    assert table['weight_decay'] == 0.0
    assert groups['backbone.layers.0.blocks.0.norm1.weight']['weight_decay'] == 0.0
    assert groups['backbone.layers.0.blocks.0.mlp.fc1.weight']['weight_decay'] == pytest.approx(0.05)


def test_clear_error_without_a_swin_backbone():
    model = MODELS.build(dict(type='Recognizer2D',
                              backbone=dict(type='MobileNetV2', widen_factor=0.25),
                              cls_head=dict(type='TSNHead', in_channels=1280, num_classes=3)))
    with pytest.raises(TypeError, match='Video Swin'):
        build_optim_wrapper(model, dict(constructor='SwinLayerDecayOptimWrapperConstructor',
                                        optimizer=dict(type='AdamW', lr=1.0),
                                        paramwise_cfg=dict(layer_decay_rate=0.9)))
