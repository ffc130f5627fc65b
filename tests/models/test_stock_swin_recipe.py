"""What is pretrained is what a stock recipe fine-tunes, at every input size.

MMAction2's own Swin-T K400 recipe, built from its config file (installed with
mmaction2), loads our exported encoder and must compute what the same recipe with
the documented change (``model.backbone.type='BEVTFinetuneSwinTransformer3D'``,
``pretrained2d=True`` left as the recipe has it) computes, also at sizes where Swin
shrinks its windows to the feature map (4x160x160: stage 4 is 5x5 < 7; 8x64x64:
stages 3-4 are 4x4, 2x2).
"""
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from bevt_mm.models.backbones import BEVTSwinTransformer3D
from bevt_mm.models.heads import BEVTHead
from bevt_mm.utils.checkpoint import bevt_to_mmaction_swin

#: MMAction2's Swin-T K400 recipe (window 8x7x7), a file of the installed package
STOCK_RECIPE = ('recognition/swin/'
                'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A Swin-T BEVT pretraining checkpoint (non-trivial tables and decoder
    norm) exported for MMAction2; returns the file."""
    torch.manual_seed(0)
    backbone = BEVTSwinTransformer3D(arch='tiny', final_norm=False)
    head = BEVTHead(in_channels=768, num_classes=8)
    with torch.no_grad():
        for name, p in backbone.named_parameters():
            if 'relative_position_bias_table' in name:
                p.normal_(0, 1)
        head.norm.weight.uniform_(0.5, 1.5)
        head.norm.bias.uniform_(-0.5, 0.5)
    ckpt = {**{f'backbone.{k}': v for k, v in backbone.state_dict().items()},
            **{f'head.{k}': v for k, v in head.state_dict().items()}}
    path = str(tmp_path_factory.mktemp('export') / 'bevt_swin_t_backbone.pth')
    torch.save(dict(state_dict=bevt_to_mmaction_swin(ckpt, window_size=(8, 7, 7))), path)
    return path


@pytest.fixture(scope='module')
def stock_and_ours(exported):
    import mmaction
    init_default_scope('mmaction')  # module-scoped: before the suite's autouse scope
    cfg = Config.fromfile(osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs',
                                   STOCK_RECIPE))
    cfg.model.backbone.pretrained = exported
    assert cfg.model.backbone.pretrained2d is True
    changed = cfg.model.backbone.copy()
    changed.type = 'BEVTFinetuneSwinTransformer3D'  # the documented change
    ours = MODELS.build(changed)
    with pytest.warns(UserWarning, match='pretrained2d=False'):
        ours.init_weights()
    cfg.model.backbone.pretrained2d = False  # stock needs it for a 3D file
    stock = MODELS.build(cfg.model)
    stock.init_weights()  # loads `pretrained` as the recipe does
    assert type(stock.backbone).__name__ == 'SwinTransformer3D'
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in stock.backbone.state_dict().items()
        if not k.endswith('relative_position_index')}
    torch.testing.assert_close(stock.backbone.layers[3].blocks[1].attn.relative_position_bias_table,
                               ours.layers[3].blocks[1].attn.relative_position_bias_table)
    stock.backbone.eval()  # (the stock Swin's train() returns None: no chaining)
    return stock.backbone, ours.eval()


@pytest.mark.parametrize('size', [pytest.param((8, 224, 224), marks=pytest.mark.slow),
                                  (4, 160, 160), (8, 64, 64)],
                         ids=lambda s: 'x'.join(map(str, s)))
@torch.no_grad()
def test_stock_swin_t_recipe_computes_our_finetuning_output(stock_and_ours, size):
    stock, ours = stock_and_ours
    torch.manual_seed(1)
    clip = torch.randn(1, 3, *size)
    diff = (ours(clip) - stock(clip)).abs().max().item()
    assert diff < 1e-4, f'{size}: max abs diff {diff:.2e}'


@torch.no_grad()
def test_toy_pretraining_backbone_is_what_the_toy_finetuning_computes():
    """configs/toy/toy_joint_swin.py's encoder and the stock Swin of
    toy_finetune_swin_spatial.py, same weights: same features at the toy sizes
    (pretraining 8x64x64, fine-tuning 16x32x32), where the 4x4x4 window shrinks."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    pre = Config.fromfile(osp.join(root, 'configs', 'toy', 'toy_joint_swin.py'))
    fine = Config.fromfile(osp.join(root, 'configs', 'toy', 'toy_finetune_swin_spatial.py'))
    torch.manual_seed(0)
    ours = MODELS.build(dict(pre.model.backbone, final_norm=True)).eval()
    for name, p in ours.named_parameters():
        if 'relative_position_bias_table' in name:
            p.normal_(0, 1)
    assert fine.model.backbone.type == 'BEVTFinetuneSwinTransformer3D'
    stock = MODELS.build(dict(fine.model.backbone, type='SwinTransformer3D'))
    stock.eval()
    assert type(stock).__name__ == 'SwinTransformer3D'
    stock.load_state_dict(ours.state_dict(), strict=False)
    for size in ((8, 64, 64), (16, 32, 32)):
        clip = torch.randn(1, 3, *size)
        torch.testing.assert_close(ours(clip), stock(clip), atol=1e-5, rtol=1e-4)
