"""TimeSformer configs: recipe numbers, and the user's chain on small inputs: one joint
pretraining step -> export -> the fine-tuning config loads it, trains one epoch and tests."""
import os.path as osp
import runpy
import sys
from typing import Dict

import pytest
import torch
from bevt_mm.utils.safe_load import load_checkpoint_file
from config_shrink import FRAMES, RES, shrink_bevt_config, shrink_recognizer_config
from mmengine.config import Config
from mmengine.runner import Runner

from experiment_names import experiment_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
JOINT = osp.join(ROOT, 'configs/bevt/joint_timesformer_b.py')
FINETUNE = osp.join(ROOT, 'configs/bevt/finetune_timesformer_b_k400.py')
TINY_TIMESFORMER = dict(num_frames=FRAMES, img_size=RES, embed_dims=32, num_heads=2,
                        num_transformer_layers=2)


def shrink_joint_config(cfg: Config, media: Dict[str, str], tokenizer_ckpt: str,
                        work_dir: str) -> Config:
    """The lead's BEVT shrink, with TimeSformer sizes."""
    cfg = shrink_bevt_config(cfg, media, tokenizer_ckpt, work_dir)
    cfg.model.backbone.update(TINY_TIMESFORMER)
    cfg.model.head.in_channels = TINY_TIMESFORMER['embed_dims']
    return cfg


def shrink_finetune_config(cfg: Config, videos: Dict[str, str], work_dir: str) -> Config:
    """The lead's recognizer shrink, with TimeSformer sizes instead of Swin's."""
    cfg = shrink_recognizer_config(cfg, videos, work_dir, num_classes=4)
    cfg.model.backbone.pop('arch')
    cfg.model.backbone.update(TINY_TIMESFORMER)
    cfg.model.cls_head.in_channels = TINY_TIMESFORMER['embed_dims']
    return cfg


@pytest.fixture(scope='module')
def joint_checkpoint(bevt_media, tiny_tokenizer_ckpt, tmp_path_factory):
    """One joint pretraining epoch of the shrunk config; its epoch_1.pth."""
    work = str(tmp_path_factory.mktemp('joint_timesformer'))
    cfg = shrink_joint_config(Config.fromfile(JOINT), bevt_media, tiny_tokenizer_ckpt, work)
    cfg.experiment_name = experiment_name('joint_timesformer')
    runner = Runner.from_cfg(cfg)
    before = {k: v.detach().clone() for k, v in runner.model.named_parameters()}
    runner.train()
    assert runner.iter >= 1
    scalars = runner.message_hub.log_scalars
    for key in ('train/loss_image', 'train/loss_video'):
        assert torch.isfinite(torch.tensor(scalars[key].current()))
    changed = {k.split('.')[0] for k, v in runner.model.named_parameters()
               if v.requires_grad and not torch.equal(v.detach(), before[k])}
    assert changed == {'backbone', 'head'}
    assert 'message_hub' in load_checkpoint_file(osp.join(work, 'epoch_1.pth'))  # restricted
    return osp.join(work, 'epoch_1.pth'), runner.model.backbone


def test_joint_recipe_numbers():
    cfg = Config.fromfile(JOINT)
    bb = cfg.model.backbone
    assert bb.type == 'BEVTTimeSformer' and bb.attention_type == 'divided_space_time'
    assert (bb.num_frames, bb.img_size, bb.patch_size) == (8, 224, 16)
    assert (bb.embed_dims, bb.num_heads, bb.num_transformer_layers) == (768, 12, 12)
    assert set(bb) >= {'type', 'num_frames'} and 'arch' not in bb  # Swin's keys are gone
    head = cfg.model.head
    assert head.type == 'BEVTPlainHead' and head.in_channels == 768 and 'temporal_scale' not in head
    assert head.num_classes == cfg.tokenizer_vocab_size == 8192
    assert cfg.model.data_preprocessor.mean == [127.5] * 3
    assert cfg.load_from is None
    videos, images = cfg.train_dataloader.dataset.datasets
    video_steps = {t.type: t for t in videos.pipeline}
    tube = video_steps['TubeMaskGenerator']
    assert (tube.num_frames, tube.temporal_patch, tube.input_size) == (8, 1, 14)
    assert (tube.num_masking_patches, tube.min_num_patches) == (98, 16)
    assert tube.masked_tube_range == (0.5, 1.0)
    assert (video_steps['SampleFrames'].clip_len, video_steps['SampleFrames'].frame_interval) \
        == (8, 32)
    assert video_steps['TokenizerView'].size == 112
    # the rest is the Swin joint recipe
    swin = Config.fromfile(osp.join(ROOT, 'configs/bevt/joint_swin_b.py'))
    swin_videos, swin_images = swin.train_dataloader.dataset.datasets
    assert images.to_dict() == swin_images.to_dict()
    assert [t.type for t in videos.pipeline] == [t.type for t in swin_videos.pipeline]
    for key in ('sampler', 'batch_size'):
        assert cfg.train_dataloader[key] == swin.train_dataloader[key]
    assert cfg.model.target_generator == swin.model.target_generator
    assert cfg.optim_wrapper.optimizer == swin.optim_wrapper.optimizer
    assert cfg.param_scheduler == swin.param_scheduler and cfg.train_cfg == swin.train_cfg
    for key in ('type', 'accumulative_counts', 'clip_grad'):
        assert cfg.optim_wrapper[key] == swin.optim_wrapper[key]
    assert {'backbone.pos_embed', 'backbone.time_embed', 'backbone.cls_token'} <= set(
        cfg.optim_wrapper.paramwise_cfg.custom_keys)


def test_finetune_recipe_is_stock_timesformer():
    cfg = Config.fromfile(FINETUNE)
    stock = Config.fromfile(osp.join(
        osp.dirname(__import__('mmaction').__file__), '.mim/configs/recognition/timesformer',
        'timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb.py'))
    # the stock TimeSformer's parameters with BEVT's checked loading
    assert cfg.model.backbone.type == 'BEVTFinetuneTimeSformer'
    cfg.model.backbone.type = 'TimeSformer'
    assert cfg.model.backbone.attention_type == 'divided_space_time'
    assert cfg.model.backbone.pretrained is None and cfg.load_from is None
    stock.model.backbone.pretrained = None

    def plain(c):  # without the '_scope_' entries a loaded config gains
        if isinstance(c, dict):
            return {k: plain(v) for k, v in c.items() if k != '_scope_'}
        if isinstance(c, (list, tuple)):
            return [plain(v) for v in c]
        return c

    for key in ('train_dataloader', 'test_dataloader'):  # ours bounds a hanging batch
        assert cfg[key].pop('timeout') == 600, key
        # and survives unreadable videos (RobustVideoDataset: VideoDataset + robust loading)
        assert cfg[key].dataset.type == 'RobustVideoDataset', key
        cfg[key].dataset.type = stock[key].dataset.type
        assert cfg[key].dataset.pop('num_classes') == 400, key  # labels checked on reading
        for step in cfg[key].dataset.pipeline:  # ours decodes with VideoInit/VideoDecode
            if step.type == 'VideoInit':
                assert step.pop('backend') == 'auto'
                step.update(type='DecordInit', io_backend='disk')
            elif step.type == 'VideoDecode':
                step.type = 'DecordDecode'
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_dataloader',
                'test_dataloader', 'train_cfg'):
        assert plain(cfg[key]) == plain(stock[key]), key


@pytest.mark.slow
def test_joint_step_export_and_finetune(joint_checkpoint, toy_videos, tmp_path):
    ckpt, pretrained = joint_checkpoint
    export = str(tmp_path / 'backbone.pth')
    argv, sys.argv = sys.argv, ['bevt_timesformer_to_mmaction.py', ckpt, export]
    try:  # the CLI, in-process
        runpy.run_path(osp.join(ROOT, 'tools/convert/bevt_timesformer_to_mmaction.py'),
                       run_name='__main__')
    finally:
        sys.argv = argv
    cfg = shrink_finetune_config(Config.fromfile(FINETUNE), toy_videos, str(tmp_path / 'work'))
    cfg.load_from = export
    cfg.experiment_name = experiment_name('finetune_timesformer')
    runner = Runner.from_cfg(cfg)
    # what load_from does: every backbone key present, equal features
    loaded = runner.load_checkpoint(export, map_location='cpu')
    missing = [k for k in runner.model.state_dict() if k not in loaded['state_dict']]
    assert missing and all(k.startswith('cls_head.') for k in missing)
    clip = torch.randn(1, 3, FRAMES, RES, RES)
    with torch.no_grad():
        assert torch.equal(runner.model.backbone.eval()(clip), pretrained.eval()(clip))
    runner.train()
    metrics = runner.test()
    assert 0.0 <= metrics['acc/top1'] <= 1.0
    assert 'message_hub' in load_checkpoint_file(osp.join(cfg.work_dir, 'epoch_1.pth'))


@pytest.mark.slow
def test_toy_timesformer_config_trains_one_epoch(bevt_media, tiny_tokenizer_ckpt, tmp_path):
    """The toy demo's TimeSformer option: toy_joint_swin.py with the TimeSformer model."""
    toy = Config.fromfile(osp.join(ROOT, 'configs/toy/toy_joint_timesformer.py'))
    swin = Config.fromfile(osp.join(ROOT, 'configs/toy/toy_joint_swin.py'))
    assert toy.model.backbone.type == 'BEVTTimeSformer' and toy.model.head.type == 'BEVTPlainHead'
    assert toy.model.target_generator == swin.model.target_generator
    assert toy.train_dataloader.dataset.datasets[1] == swin.train_dataloader.dataset.datasets[1]
    assert toy.train_dataloader.sampler == swin.train_dataloader.sampler
    tube = {t.type: t for t in toy.train_dataloader.dataset.datasets[0].pipeline}[
        'TubeMaskGenerator']
    assert tube.temporal_patch == 1 and tube.num_frames == toy.model.backbone.num_frames
    cfg = shrink_bevt_config(toy, bevt_media, tiny_tokenizer_ckpt, str(tmp_path / 'work'))
    cfg.model.backbone.update(num_frames=FRAMES, img_size=RES)  # the shrunk clips
    cfg.experiment_name = experiment_name('toy_timesformer')
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert all(torch.isfinite(torch.tensor(scalars[k].current()))
               for k in ('train/loss_image', 'train/loss_video'))
    assert 'message_hub' in load_checkpoint_file(osp.join(cfg.work_dir, 'epoch_1.pth'))
