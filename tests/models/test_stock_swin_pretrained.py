"""An exported BEVT encoder in a stock MMAction2 Swin recipe (which sets
``pretrained2d=True``), through tools/train.py, any other runner, and the probe."""
import os.path as osp
from argparse import Namespace

import mmaction
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from bevt_mm.engine.launch import merge_train_args
from bevt_mm.models.backbones import BEVTSwinTransformer3D
from bevt_mm.utils import bevt_to_mmaction_swin

STOCK = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'recognition', 'swin',
                 'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
ARCH = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1])


@pytest.fixture(scope='module')
def export(tmp_path_factory):
    torch.manual_seed(0)
    backbone = BEVTSwinTransformer3D(arch=ARCH, window_size=(8, 7, 7), final_norm=False)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    path = str(tmp_path_factory.mktemp('export') / 'bevt_backbone.pth')
    torch.save(dict(state_dict=bevt_to_mmaction_swin(state, (8, 7, 7), norm3='fresh')), path)
    return path, backbone


def _stock(pretrained=None) -> Config:
    cfg = Config.fromfile(STOCK)
    cfg.model.backbone.arch = dict(ARCH)
    cfg.model.cls_head.in_channels = 128
    cfg.model.backbone.pretrained = pretrained
    assert cfg.model.backbone.pretrained2d is True
    return cfg


def test_exported_encoder_loads_in_a_stock_recipe_without_pretrained2d(export, tmp_path):
    path, ours = export
    args = Namespace(config=STOCK, work_dir=str(tmp_path), resume=None, amp=False,
                     no_validate=True, auto_scale_lr=False, seed=None, diff_rank_seed=False,
                     deterministic=False, cfg_options=None, launcher='none')
    cfg = merge_train_args(_stock(path), args)
    model = MODELS.build(cfg.model)
    with pytest.warns(UserWarning, match='pretrained2d=False'):  # compat shim 7
        model.init_weights()  # KeyError: 'model' when inflated as a 2D ImageNet Swin
    torch.testing.assert_close(model.backbone.patch_embed.proj.weight,
                               ours.patch_embed.proj.weight)


def test_exported_encoder_loads_in_a_stock_recipe_built_by_any_runner(export):
    """The same without tools/train.py (mim's tools, a user's script): the check lives in the
    backbone's loading, not in our launcher."""
    path, ours = export
    model = MODELS.build(_stock(path).model)
    with pytest.warns(UserWarning, match='pretrained2d=False'):
        model.init_weights()
    exported = torch.load(path, weights_only=True)['state_dict']
    loaded = model.backbone.state_dict()
    assert len(exported) > 10
    for name, value in exported.items():
        key = name[len('backbone.'):] if name.startswith('backbone.') else name
        torch.testing.assert_close(loaded[key], value)
    torch.testing.assert_close(loaded['patch_embed.proj.weight'], ours.patch_embed.proj.weight)


def test_probe_builds_a_stock_swin_recognizer():
    from bevt_mm.analysis.probe import build_recognizer  # tools/analysis/probe.py's recognizer
    model = build_recognizer(_stock())  # inflated None before
    assert type(model.backbone).__name__ == 'SwinTransformer3D'
