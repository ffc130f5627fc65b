"""Every fine-tuning config takes a raw BEVT pretraining checkpoint (export step skipped) or
its export, with the same result, through its BEVT fine-tuning backbone; a load that finds
< 50 % of the backbone raises.

The reported fault: ``model.backbone.pretrained=RAW.pth`` on the K400 config (stock
``SwinTransformer3D``) loaded 0 of its backbone tensors with one warning, while the SSv2
config (our backbone) loaded them from the same file, with a fresh ``norm3`` instead of the
export's decoder norm.

Real instances: the pretraining checkpoints are the state dicts of the shrunk joint recipes'
BEVT models (Swin with the recipe's 8x7x7 window, TimeSformer), saved as mmengine saves
them (``meta``, ``state_dict``); the fine-tuning models are the shrunk fine-tuning configs.
Expected tensors: what the export tools write (``bevt_to_mmaction_swin`` with the
fine-tuning window, ``bevt_to_mmaction_timesformer`` with its frames).
"""
import glob
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.runner.checkpoint import load_checkpoint

from bevt_mm.utils.checkpoint import (BackboneCheckpointError, bevt_to_mmaction_swin,
                                      bevt_to_mmaction_timesformer)
from config_shrink import shrink_bevt_config, shrink_recognizer_config
from test_timesformer_configs import TINY_TIMESFORMER, shrink_finetune_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SWIN_FINETUNE = sorted(glob.glob(osp.join(ROOT, 'configs', 'bevt', 'finetune_swin_*.py')))
TIMESFORMER_FINETUNE = osp.join(ROOT, 'configs', 'bevt', 'finetune_timesformer_b_k400.py')


def _save_model(cfg_model, path, seed):
    torch.manual_seed(seed)
    model = MODELS.build(cfg_model)
    model.init_weights()
    with torch.no_grad():  # trained-looking tables and norms (init leaves them constant)
        for name, p in model.named_parameters():
            if 'relative_position_bias_table' in name or 'norm' in name:
                p.normal_(0, 1)
    torch.save(dict(meta=dict(epoch=1, iter=1), state_dict=model.state_dict()), path)
    return path


@pytest.fixture(scope='module')
def raw(bevt_media, tiny_tokenizer_ckpt, tmp_path_factory):
    """Raw pretraining checkpoints: ``dict(swin=path, timesformer=path)``."""
    root = tmp_path_factory.mktemp('raw_pretraining')
    swin = shrink_bevt_config(Config.fromfile(osp.join(ROOT, 'configs/bevt/joint_swin_b.py')),
                              bevt_media, tiny_tokenizer_ckpt, str(root / 'w'))
    swin.model.backbone.window_size = (8, 7, 7)  # the recipe's pretraining window
    tsf = shrink_bevt_config(
        Config.fromfile(osp.join(ROOT, 'configs/bevt/joint_timesformer_b.py')), bevt_media,
        tiny_tokenizer_ckpt, str(root / 'w'))
    tsf.model.backbone.update(TINY_TIMESFORMER)
    tsf.model.head.in_channels = TINY_TIMESFORMER['embed_dims']
    return dict(swin=_save_model(swin.model, str(root / 'swin.pth'), 1),
                timesformer=_save_model(tsf.model, str(root / 'tsf.pth'), 2))


def _state(path):
    return torch.load(path, weights_only=True)['state_dict']


def _finetune_model(path, toy_videos, tmp_path, pretrained=None):
    if path == TIMESFORMER_FINETUNE:
        cfg = shrink_finetune_config(Config.fromfile(path), toy_videos, str(tmp_path))
    else:
        cfg = shrink_recognizer_config(Config.fromfile(path), toy_videos, str(tmp_path))
    cfg.model.backbone.pretrained = pretrained
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def _count_equal(backbone, expected):
    own = backbone.state_dict()
    same = sum(1 for k, v in own.items() if k in expected and torch.equal(v, expected[k]))
    return same, len(own)


@pytest.mark.slow
@pytest.mark.parametrize('path', SWIN_FINETUNE, ids=osp.basename)
def test_swin_pretrained_takes_the_raw_checkpoint_as_its_export(path, raw, toy_videos,
                                                                tmp_path):
    probe = _finetune_model(path, toy_videos, tmp_path)
    export = bevt_to_mmaction_swin(_state(raw['swin']), window_size=(8, 7, 7),
                                   new_window_size=probe.backbone.window_size)
    export_path = str(tmp_path / 'export.pth')
    torch.save(dict(state_dict=export), export_path)
    for given in (raw['swin'], export_path):
        model = _finetune_model(path, toy_videos, tmp_path, pretrained=given)
        same, total = _count_equal(model.backbone, export)
        assert same == total, f'{osp.basename(given)}: {same} of {total} tensors as exported'


@pytest.mark.parametrize('path', SWIN_FINETUNE + [TIMESFORMER_FINETUNE], ids=osp.basename)
def test_load_from_takes_the_raw_checkpoint_as_its_export(path, raw, toy_videos, tmp_path):
    """``load_from`` (the Runner's ``load_checkpoint``: same loader, recognizer keys)."""
    model = _finetune_model(path, toy_videos, tmp_path)
    if path == TIMESFORMER_FINETUNE:
        expected = bevt_to_mmaction_timesformer(_state(raw['timesformer']),
                                                num_frames=model.backbone.num_frames)
        source = raw['timesformer']
    else:
        expected = bevt_to_mmaction_swin(_state(raw['swin']), window_size=(8, 7, 7),
                                         new_window_size=model.backbone.window_size)
        source = raw['swin']
    head = {k: v.clone() for k, v in model.cls_head.state_dict().items()}
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    load_checkpoint(model, source, map_location='cpu', revise_keys=[(r'^module\.', '')])
    same, total = _count_equal(model.backbone, expected)
    if path == TIMESFORMER_FINETUNE:
        assert same == total, f'{same} of {total} backbone tensors as exported'
    else:  # the decoder norm (the export's norm3) is outside the backbone's keys of this load
        assert same == total - 2, f'{same} of {total} backbone tensors as exported'
        for key in ('norm3.weight', 'norm3.bias'):
            assert torch.equal(model.backbone.state_dict()[key], before[key])
    for k, v in model.cls_head.state_dict().items():  # the BEVT head never lands in cls_head
        assert torch.equal(v, head[k])


def test_timesformer_pretrained_takes_the_raw_checkpoint_as_its_export(raw, toy_videos,
                                                                       tmp_path):
    """Stock TimeSformer would copy the temporal attention over the spatial one."""
    model = _finetune_model(TIMESFORMER_FINETUNE, toy_videos, tmp_path,
                            pretrained=raw['timesformer'])
    assert type(model.backbone).__name__ == 'BEVTFinetuneTimeSformer'
    expected = bevt_to_mmaction_timesformer(_state(raw['timesformer']),
                                            num_frames=model.backbone.num_frames)
    same, total = _count_equal(model.backbone, expected)
    assert same == total, f'{same} of {total} backbone tensors as exported'


@pytest.mark.parametrize('path', SWIN_FINETUNE, ids=osp.basename)
def test_a_load_finding_too_few_tensors_is_an_error(path, raw, toy_videos, tmp_path):
    """A TimeSformer checkpoint given to a Swin config: 0 tensors found."""
    with pytest.raises(BackboneCheckpointError,
                       match=r'tsf\.pth: only 0 of the \d+ tensors.*bevt_to_mmaction_swin\.py'):
        _finetune_model(path, toy_videos, tmp_path, pretrained=raw['timesformer'])
    model = _finetune_model(path, toy_videos, tmp_path)
    with pytest.raises(BackboneCheckpointError,
                       match=r"keys under 'backbone\.'\): only 0 of"):
        load_checkpoint(model, raw['timesformer'], map_location='cpu')


def test_timesformer_load_finding_too_few_tensors_is_an_error(raw, toy_videos, tmp_path):
    with pytest.raises(BackboneCheckpointError,
                       match=r'swin\.pth: only 0 of .*bevt_timesformer_to_mmaction\.py'):
        _finetune_model(TIMESFORMER_FINETUNE, toy_videos, tmp_path, pretrained=raw['swin'])
