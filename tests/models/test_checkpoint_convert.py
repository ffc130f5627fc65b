"""Checkpoint conversions: authors' layout, 2D Swin, image->joint, MMAction2 export."""
import os.path as osp
import runpy
import sys

import pytest
import torch
from bevt_builders import TINY_ARCH, TINY_WINDOW
from mmaction.registry import MODELS
from mmengine.config import Config

from bevt_mm.utils.safe_load import load_checkpoint_file
from bevt_mm.models.backbones import BEVTSwinTransformer3D
from bevt_mm.models.heads import BEVTHead
from bevt_mm.utils.checkpoint import (bevt_to_mmaction_swin, convert_authors_bevt, image_to_joint,
                                      image_to_joint_checkpoint, swin2d_to_bevt)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def authors_swin_b_state_dict(vocab: int = 8192) -> dict:
    """Key names and shapes of the authors' released BEVT Swin-B (xyzforever/BEVT),
    written out independently of our model."""
    c, depths, heads, win = 128, [2, 2, 18, 2], [4, 8, 16, 32], (8, 7, 7)
    table = (2 * win[0] - 1) * (2 * win[1] - 1) * (2 * win[2] - 1)
    e = torch.empty
    sd = {'backbone.mask_token': e(1, 1, c),
          'backbone.patch_embed.proj.weight': e(c, 3, 2, 4, 4),
          'backbone.patch_embed.proj.bias': e(c),
          'backbone.patch_embed.norm.weight': e(c), 'backbone.patch_embed.norm.bias': e(c),
          'backbone.patch_embed_2d.proj.weight': e(c, 3, 4, 4),
          'backbone.patch_embed_2d.proj.bias': e(c),
          'backbone.patch_embed_2d.norm.weight': e(c),
          'backbone.patch_embed_2d.norm.bias': e(c)}
    for i, (depth, nh) in enumerate(zip(depths, heads)):
        d = c * 2**i
        for j in range(depth):
            p = f'backbone.layers.{i}.blocks.{j}.'
            sd.update({p + 'norm1.weight': e(d), p + 'norm1.bias': e(d),
                       p + 'attn.relative_position_bias_table': e(table, nh),
                       p + 'attn.qkv.weight': e(3 * d, d), p + 'attn.qkv.bias': e(3 * d),
                       p + 'attn.proj.weight': e(d, d), p + 'attn.proj.bias': e(d),
                       p + 'norm2.weight': e(d), p + 'norm2.bias': e(d),
                       p + 'mlp.fc1.weight': e(4 * d, d), p + 'mlp.fc1.bias': e(4 * d),
                       p + 'mlp.fc2.weight': e(d, 4 * d), p + 'mlp.fc2.bias': e(d)})
        if i < 3:
            p = f'backbone.layers.{i}.downsample.'
            sd.update({p + 'reduction.weight': e(2 * d, 4 * d), p + 'norm.weight': e(4 * d),
                       p + 'norm.bias': e(4 * d)})
    top = c * 8
    sd.update({'backbone.norm.weight': e(top), 'backbone.norm.bias': e(top),
               'backbone.lm_down.weight': e(top, top * 3 // 2), 'backbone.lm_down.bias': e(top),
               'backbone.fpn.0.weight': e(top, top, 2, 2), 'backbone.fpn.0.bias': e(top),
               'backbone.lm_down_st.0.weight': e(top, top * 3 // 2),
               'backbone.lm_down_st.0.bias': e(top),
               'backbone.fpn_s.0.weight': e(top, top, 1, 2, 2), 'backbone.fpn_s.0.bias': e(top),
               'backbone.fpn_t.0.weight': e(top, top, 2, 1, 1), 'backbone.fpn_t.0.bias': e(top),
               'cls_head.lm_head.weight': e(vocab, top), 'cls_head.lm_head.bias': e(vocab)})
    return sd


def test_authors_swin_b_converts_and_loads_strictly():
    sd = authors_swin_b_state_dict()
    sd['cls_head.lm_head.bias'] = torch.arange(8192.)
    model = torch.nn.ModuleDict(dict(
        backbone=BEVTSwinTransformer3D(arch='base', final_norm=False),
        head=BEVTHead(in_channels=1024, num_classes=8192)))
    result = model.load_state_dict(convert_authors_bevt(dict(state_dict=sd)), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model['head'].classifier.bias, torch.arange(8192.))


def test_mmpretrain_swin2d_to_image_stream_is_exact(tmp_path):
    """A 2D mmpretrain Swin loaded through ``pretrained2d`` gives the same
    final features on an image as mmpretrain itself (patch merging reordered)."""
    from mmpretrain.models.backbones import SwinTransformer
    torch.manual_seed(0)
    swin2d = SwinTransformer(arch=dict(embed_dims=16, depths=[2, 2, 2, 2],
                                       num_heads=[1, 2, 2, 4]), drop_path_rate=0.)
    swin2d.init_weights()
    with torch.no_grad():  # non-trivial norms and tables
        for name, p in swin2d.named_parameters():
            if 'norm' in name or 'table' in name:
                p.add_(torch.randn_like(p) * 0.1)
    path = str(tmp_path / 'swin2d.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in swin2d.state_dict().items()}),
               path)
    ours = BEVTSwinTransformer3D(arch=dict(embed_dims=16, depths=[2, 2, 2, 2],
                                           num_heads=[1, 2, 2, 4]),
                                 pretrained=path, pretrained2d=True, drop_path_rate=0.)
    ours.init_weights()
    image = torch.randn(1, 3, 224, 224)
    swin2d.eval()  # (mmpretrain's train() returns None)
    with torch.no_grad():
        expected = swin2d(image)[-1]
        got = ours.eval()(image)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)
    # the 3D patch embedding was inflated from the same 2D weights
    torch.testing.assert_close(ours.patch_embed.proj.weight.sum(2),
                               ours.patch_embed_2d.proj.weight, atol=1e-6, rtol=1e-5)


def test_original_swin_layout_keys_map_to_backbone():
    ours = BEVTSwinTransformer3D(arch=dict(TINY_ARCH), window_size=TINY_WINDOW)
    own = {k: v for k, v in ours.state_dict().items()
           if not k.startswith('patch_embed.') and k != 'mask_token'}
    original = {}
    for k, v in own.items():
        k = k.replace('patch_embed_2d.', 'patch_embed.').replace('norm3.', 'norm.')
        original[k] = v
    original['head.weight'] = torch.zeros(10, 64)
    original['layers.0.blocks.1.attn_mask'] = torch.zeros(1)
    converted = swin2d_to_bevt(dict(model=original))
    assert set(converted) == set(own)


def test_image_to_joint_inflation_shares_weights():
    """After inflation the video stream on a repeated image equals the image stream."""
    torch.manual_seed(0)
    image_model = BEVTSwinTransformer3D(arch=dict(TINY_ARCH), window_size=TINY_WINDOW,
                                        out_indices=(0, 1, 2, 3))
    image_model.init_weights()
    sd = image_to_joint(image_model.state_dict(), window_size=TINY_WINDOW,
                        patch_size=(2, 4, 4))
    joint = BEVTSwinTransformer3D(arch=dict(TINY_ARCH), window_size=TINY_WINDOW,
                                  out_indices=(0, 1, 2, 3))
    joint.load_state_dict(sd, strict=True)
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = image_model.eval()(image)
        joint.eval()
        for a, b, c in zip(ref, joint(image), joint(image.unsqueeze(2).repeat(1, 1, 2, 1, 1))):
            torch.testing.assert_close(b, a)
            torch.testing.assert_close(c.squeeze(2), a, atol=1e-5, rtol=1e-5)
    # tables: every temporal offset holds the temporal-distance-0 slice
    table = sd['layers.0.blocks.0.attn.relative_position_bias_table'].reshape(3, 49, -1)
    assert torch.equal(table[0], table[1]) and torch.equal(table[0], table[2])


def test_image_to_joint_resizes_2d_tables():
    sd = {'layers.0.blocks.0.attn.relative_position_bias_table': torch.full((23 * 23, 3), 0.5),
          'patch_embed_2d.proj.weight': torch.randn(8, 3, 4, 4)}
    out = image_to_joint(sd, window_size=(8, 7, 7), patch_size=(2, 4, 4))
    table = out['layers.0.blocks.0.attn.relative_position_bias_table']
    assert table.shape == (15 * 13 * 13, 3)
    torch.testing.assert_close(table, torch.full_like(table, 0.5))
    assert out['patch_embed.proj.weight'].shape == (8, 3, 2, 4, 4)


def test_image_to_joint_checkpoint_keeps_head():
    torch.manual_seed(0)
    bb = BEVTSwinTransformer3D(arch=dict(TINY_ARCH), window_size=TINY_WINDOW, final_norm=False)
    head = BEVTHead(in_channels=64, num_classes=16)
    ckpt = dict(state_dict={**{f'backbone.{k}': v for k, v in bb.state_dict().items()},
                            **{f'head.{k}': v for k, v in head.state_dict().items()},
                            'target_generator.w': torch.zeros(1)})
    out = image_to_joint_checkpoint(ckpt, window_size=TINY_WINDOW)
    assert 'target_generator.w' not in out
    model = torch.nn.ModuleDict(dict(backbone=bb, head=head))
    assert not model.load_state_dict(out, strict=True).missing_keys


def test_export_loads_into_stock_mmaction_swin_recipe(tmp_path):
    """Our pretraining checkpoint -> MMAction2's own Swin-T K400 recipe."""
    torch.manual_seed(0)
    backbone = BEVTSwinTransformer3D(arch='tiny', final_norm=False)
    head = BEVTHead(in_channels=768, num_classes=64)  # constructor init is enough
    with torch.no_grad():
        head.norm.weight.uniform_(0.5, 1.5)
        head.norm.bias.uniform_(-0.5, 0.5)
    ckpt = dict(state_dict={**{f'backbone.{k}': v for k, v in backbone.state_dict().items()},
                            **{f'head.{k}': v for k, v in head.state_dict().items()}})
    exported = bevt_to_mmaction_swin(ckpt, window_size=(8, 7, 7))
    path = str(tmp_path / 'bevt_swin_t_backbone.pth')
    torch.save(dict(state_dict=exported), path)

    import mmaction
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmaction.__file__), '.mim', 'configs', 'recognition', 'swin',
        'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py'))
    cfg.model.backbone.pretrained = path
    cfg.model.backbone.pretrained2d = False
    stock = MODELS.build(cfg.model)
    stock.init_weights()  # loads `pretrained` as the recipe would
    assert type(stock.backbone).__name__ == 'SwinTransformer3D'
    result = stock.backbone.load_state_dict(exported, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    torch.testing.assert_close(stock.backbone.norm3.weight, head.norm.weight)
    torch.testing.assert_close(stock.backbone.layers[2].blocks[3].attn.qkv.weight,
                               backbone.layers[2].blocks[3].attn.qkv.weight)

    ours = BEVTSwinTransformer3D(arch='tiny')  # fine-tuning form (with norm3)
    result = ours.load_state_dict(exported, strict=False)
    assert sorted(result.missing_keys) == sorted(
        ['mask_token'] + [f'patch_embed_2d.{k}' for k in
                          ('proj.weight', 'proj.bias', 'norm.weight', 'norm.bias')])
    assert result.unexpected_keys == []
    clip = torch.randn(1, 3, 2, 224, 224)
    stock.backbone.eval()  # (the stock Swin's train() returns None: no chaining)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(clip), stock.backbone(clip),
                                   atol=2e-5, rtol=1e-4)


def run_cli(script: str, *args: str) -> None:
    """Run a tools/convert script in this process (as ``python script args``)."""
    argv = sys.argv
    sys.argv = [script, *args]
    try:
        runpy.run_path(osp.join(ROOT, 'tools', 'convert', script), run_name='__main__')
    finally:
        sys.argv = argv


def test_cli_converts_the_authors_golden_file(tmp_path):
    golden = osp.join(ROOT, 'tests', 'data', 'authors_bevt_swin_small.pt')
    ours, backbone = str(tmp_path / 'bevt.pth'), str(tmp_path / 'backbone.pth')
    run_cli('authors_bevt_to_bevt_mm.py', golden, ours)
    run_cli('bevt_to_mmaction_swin.py', ours, backbone, '--norm3', 'decoder')
    converted = load_checkpoint_file(ours)['state_dict']
    raw = load_checkpoint_file(golden)['state_dict']['state_dict']
    assert torch.equal(converted['head.classifier.weight'], raw['cls_head.lm_head.weight'])
    exported = load_checkpoint_file(backbone)['state_dict']
    assert torch.equal(exported['norm3.weight'], raw['backbone.norm.weight'])
    assert 'layers.0.blocks.0.attn.relative_position_index' in exported
    assert not any(k.startswith(('patch_embed_2d', 'mask_token')) for k in exported)
    # SSv2-style export for a 16x7x7 recipe (as configs/bevt/finetune_swin_b_ssv2.py says)
    ssv2 = str(tmp_path / 'backbone_16.pth')
    run_cli('bevt_to_mmaction_swin.py', ours, ssv2, '--window-size', '16', '7', '7')
    exported = load_checkpoint_file(ssv2)['state_dict']
    assert exported['layers.0.blocks.0.attn.relative_position_bias_table'].shape[0] == 31 * 169


def test_export_resizes_tables_for_a_new_window():
    bb = BEVTSwinTransformer3D(arch=dict(TINY_ARCH), window_size=(8, 7, 7), final_norm=False)
    with torch.no_grad():
        bb.layers[0].blocks[0].attn.relative_position_bias_table.fill_(0.25)
    head = BEVTHead(in_channels=64, num_classes=16)
    ckpt = {**{f'backbone.{k}': v for k, v in bb.state_dict().items()},
            **{f'head.{k}': v for k, v in head.state_dict().items()}}
    out = bevt_to_mmaction_swin(ckpt, window_size=(8, 7, 7), new_window_size=(16, 7, 7))
    table = out['layers.0.blocks.0.attn.relative_position_bias_table']
    assert table.shape == (31 * 13 * 13, 1)
    torch.testing.assert_close(table, torch.full_like(table, 0.25))
    assert out['layers.0.blocks.0.attn.relative_position_index'].shape == (16 * 49, 16 * 49)
    stock = BEVTSwinTransformer3D(arch=dict(TINY_ARCH), window_size=(16, 7, 7))
    assert not stock.load_state_dict(out, strict=False).unexpected_keys


def test_export_takes_the_video_decoder_norm_when_the_decoder_norms_are_separate(tmp_path):
    """``BEVTHead(share_norm=False)``: stage-4 video features went through ``video_norm``,
    never through the image stream's ``image_norm``; the export's ``norm3`` and a raw
    checkpoint given as ``pretrained=`` both take the video one."""
    torch.manual_seed(0)
    bb = BEVTSwinTransformer3D(arch=dict(TINY_ARCH), window_size=TINY_WINDOW, final_norm=False)
    head = BEVTHead(in_channels=64, num_classes=16, share_norm=False)
    with torch.no_grad():
        for value, norm in ((1.0, head.image_norm), (2.0, head.video_norm)):
            norm.weight.fill_(value)
            norm.bias.fill_(-value)
    ckpt = {**{f'backbone.{k}': v for k, v in bb.state_dict().items()},
            **{f'head.{k}': v for k, v in head.state_dict().items()}}
    out = bevt_to_mmaction_swin(ckpt)
    torch.testing.assert_close(out['norm3.weight'], torch.full((64, ), 2.0))
    torch.testing.assert_close(out['norm3.bias'], torch.full((64, ), -2.0))
    path = str(tmp_path / 'raw.pth')
    torch.save(dict(state_dict=ckpt), path)
    ours = MODELS.build(dict(type='BEVTFinetuneSwinTransformer3D', arch=dict(TINY_ARCH),
                             window_size=TINY_WINDOW, pretrained=path))
    ours.init_weights()
    torch.testing.assert_close(ours.norm3.weight, torch.full((64, ), 2.0))


def test_export_reads_the_pretraining_window_from_the_tables(tmp_path):
    """A model pretrained with another window (the toy recipe's 4x4x4) exports without
    --src-window-size; tables no window fits (or several do) name the flag."""
    bb = BEVTSwinTransformer3D(arch=dict(TINY_ARCH), window_size=(4, 4, 4), final_norm=False)
    ckpt = {**{f'backbone.{k}': v for k, v in bb.state_dict().items()},
            **{f'head.{k}': v for k, v in BEVTHead(in_channels=64, num_classes=16)
               .state_dict().items()}}
    src, dst = str(tmp_path / 'toy.pth'), str(tmp_path / 'export.pth')
    torch.save(dict(state_dict=ckpt), src)
    run_cli('bevt_to_mmaction_swin.py', src, dst)
    exported = load_checkpoint_file(dst)['state_dict']
    key = 'layers.0.blocks.0.attn.relative_position_'
    assert exported[key + 'bias_table'].shape[0] == 7**3
    assert exported[key + 'index'].shape == (4**3, 4**3)
    cube = bevt_to_mmaction_swin(
        {k: (v[:15 * 15 * 15] if k.endswith('bias_table') else v) for k, v in
         bevt_to_mmaction_swin(ckpt, new_window_size=(8, 8, 8)).items()}, norm3='backbone')
    assert cube[key + 'index'].shape == (8**3, 8**3)  # 8x8x8: the spatial hint is not needed
    odd = {k: (v[:100] if k.endswith('bias_table') else v) for k, v in ckpt.items()}
    with pytest.raises(ValueError, match='--src-window-size'):
        bevt_to_mmaction_swin(odd)
