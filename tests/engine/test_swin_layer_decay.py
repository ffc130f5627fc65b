"""Layer-wise lr decay on stock MMAction2 Video Swin recognizers.

The released-rule test builds its expected table independently from the rule
text of the authors' released K400 fine-tuning config (xyzforever/BEVT),
including mmcv 1.x's longest-key matching, and checks every parameter of a
Swin-B recognizer.
"""
import re

import pytest
from mmengine.optim import build_optim_wrapper

import bevt_mm  # noqa: F401
from bevt_mm.engine.optimizers import released_swin_lr_decay_keys, video_swin_layer_depth
from mmaction.registry import MODELS

SWIN_B_DEPTHS = (2, 2, 18, 2)
# The released config's own optimizer (xyzforever/BEVT
# swin_base_patch244_window877_bevt_finetune_k400.py), with our constructor.
K400_OPTIM = dict(
    constructor='SwinLayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.001),
    paramwise_cfg=dict(
        layer_decay_rate=0.9,
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
        }))


def _recognizer(depths=(1, 2, 1, 1), dims=8):
    return MODELS.build(dict(
        type='Recognizer3D',
        backbone=dict(type='SwinTransformer3D',
                      arch=dict(embed_dims=dims, depths=list(depths),
                                num_heads=[1] * len(depths)),
                      pretrained=None, window_size=(2, 2, 2)),
        cls_head=dict(type='I3DHead', in_channels=dims * 8, num_classes=3)))


def released_rule(name, depths, rate=0.9):
    """(lr_mult, decay_mult) of a parameter from the rule text.

    Units from the top: head x1; final norm x rate (no decay); last block
    rate^1, ... each patch merging its own unit, ... patch_embed rate^N.
    mmcv 1.x quirks: relative tables lr x1 no decay; every other backbone
    parameter (norms in blocks, patch merging, patch embedding) takes its
    unit's lr and keeps weight decay.
    """
    top_down = []
    for stage in reversed(range(len(depths))):
        top_down += [f'layers.{stage}.blocks.{j}' for j in reversed(range(depths[stage]))]
        if stage > 0:
            top_down.append(f'layers.{stage - 1}.downsample')
    top_down.append('patch_embed')
    if not name.startswith('backbone.'):
        return 1.0, 1.0
    if 'relative_position_bias_table' in name:
        return 1.0, 0.0
    if re.match(r'backbone\.norm\d*\.', name):
        return rate, 0.0
    unit = re.match(r'backbone\.(layers\.\d+\.(blocks\.\d+|downsample)|patch_embed)\.', name)
    assert unit, name
    return rate ** (top_down.index(unit.group(1)) + 1), 1.0


def _by_name(model, wrapper):
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for g in wrapper.optimizer.param_groups:
        for p in g['params']:
            out[names[id(p)]] = g
    return out


def test_released_rule_text_matches_the_issue_examples():
    d = SWIN_B_DEPTHS
    assert released_rule('backbone.layers.3.blocks.1.mlp.fc1.weight', d)[0] == 0.9
    assert released_rule('backbone.layers.2.downsample.reduction.weight', d)[0] == 0.9 ** 3
    assert released_rule('backbone.layers.2.blocks.17.attn.qkv.weight', d)[0] == 0.9 ** 4
    assert released_rule('backbone.layers.1.downsample.norm.weight', d) == (0.9 ** 22, 1.0)
    assert released_rule('backbone.layers.0.downsample.reduction.weight', d)[0] == 0.9 ** 25
    assert released_rule('backbone.layers.0.blocks.0.norm1.weight', d) == (0.9 ** 27, 1.0)
    assert released_rule('backbone.patch_embed.proj.weight', d)[0] == 0.9 ** 28


def test_released_table_keys():
    keys = released_swin_lr_decay_keys(SWIN_B_DEPTHS, 0.9)
    assert len(keys) == 1 + 24 + 3 + 1  # final norm, blocks, patch mergings, patch embed
    assert keys['backbone.norm'] == dict(lr_mult=0.9, decay_mult=0.0)
    assert keys['backbone.layers.3.blocks.1'] == dict(lr_mult=0.9)
    assert keys['backbone.layers.2.downsample'] == dict(lr_mult=0.9 ** 3)
    assert keys['backbone.patch_embed'] == dict(lr_mult=0.9 ** 28)


def test_swin_b_every_parameter_follows_the_released_table():
    model = _recognizer(SWIN_B_DEPTHS, dims=16)  # Swin-B names and depths, narrow for speed
    wrapper = build_optim_wrapper(model, K400_OPTIM)
    groups = _by_name(model, wrapper)
    names = [n for n, _ in model.named_parameters()]
    assert len(groups) == len(names) == 329
    for name in names:
        lr_mult, decay_mult = released_rule(name, SWIN_B_DEPTHS)
        assert groups[name]['lr'] == pytest.approx(3e-4 * lr_mult, rel=1e-12), name
        assert groups[name]['weight_decay'] == pytest.approx(0.001 * decay_mult), name
    # the numbers the issue quotes
    patch_embed_mult = groups['backbone.patch_embed.proj.weight']['lr'] / 3e-4
    assert patch_embed_mult == pytest.approx(0.0523, abs=1e-4)
    assert groups['backbone.norm3.weight']['lr'] == pytest.approx(3e-4 * 0.9)
    assert groups['cls_head.fc_cls.weight']['lr'] == 3e-4


def test_per_block_rule_is_still_available():
    model = _recognizer()
    wrapper = build_optim_wrapper(model, dict(
        constructor='SwinLayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        paramwise_cfg=dict(layer_decay_rate=0.5, layer_decay_rule='per_block',
                           norm_decay_mult=0.0,
                           custom_keys={'relative_position_bias_table': dict(decay_mult=0.0)})))
    groups = {g['param_name']: g for g in wrapper.optimizer.param_groups}
    assert len(groups) == len(list(model.named_parameters()))
    num_layers = 5 + 2
    patch_embed = groups['backbone.patch_embed.proj.weight']
    assert patch_embed['lr'] == pytest.approx(0.5 ** (num_layers - 1))
    assert groups['backbone.layers.1.blocks.1.mlp.fc1.weight']['lr'] == pytest.approx(0.5 ** 3)
    assert groups['cls_head.fc_cls.weight']['lr'] == pytest.approx(1.0)
    table = groups['backbone.layers.0.blocks.0.attn.relative_position_bias_table']
    assert table['weight_decay'] == 0.0
    assert groups['backbone.layers.0.blocks.0.norm1.weight']['weight_decay'] == 0.0
    fc1 = groups['backbone.layers.0.blocks.0.mlp.fc1.weight']
    assert fc1['weight_decay'] == pytest.approx(0.05)


def test_per_block_depths_follow_video_swin_names():
    depths = [2, 2, 18, 2]
    assert video_swin_layer_depth('backbone.patch_embed.proj.weight', depths) == (0, 26)
    assert video_swin_layer_depth('backbone.layers.0.blocks.0.mlp.fc1.weight', depths) == (1, 26)
    assert video_swin_layer_depth('backbone.layers.2.blocks.17.norm1.weight', depths) == (22, 26)
    merging = 'backbone.layers.2.downsample.reduction.weight'
    assert video_swin_layer_depth(merging, depths) == (22, 26)
    assert video_swin_layer_depth('backbone.layers.3.blocks.1.attn.qkv.weight', depths) == (24, 26)
    assert video_swin_layer_depth('backbone.norm3.weight', depths) == (25, 26)
    assert video_swin_layer_depth('cls_head.fc_cls.weight', depths) == (25, 26)


def test_clear_errors():
    model = MODELS.build(dict(type='Recognizer2D',
                              backbone=dict(type='MobileNetV2', widen_factor=0.25),
                              cls_head=dict(type='TSNHead', in_channels=1280, num_classes=3)))
    with pytest.raises(TypeError, match='Video Swin'):
        build_optim_wrapper(model, dict(constructor='SwinLayerDecayOptimWrapperConstructor',
                                        optimizer=dict(type='AdamW', lr=1.0),
                                        paramwise_cfg=dict(layer_decay_rate=0.9)))
    with pytest.raises(ValueError, match='layer_decay_rule'):
        build_optim_wrapper(_recognizer(), dict(
            constructor='SwinLayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1.0),
            paramwise_cfg=dict(layer_decay_rate=0.9, layer_decay_rule='mmpretrain')))
    with pytest.raises(ValueError, match='layer_decay_rate'):
        build_optim_wrapper(_recognizer(), dict(
            constructor='SwinLayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1.0), paramwise_cfg=dict()))
