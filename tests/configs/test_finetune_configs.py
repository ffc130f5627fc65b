"""Fine-tuning configs: recipe numbers, and one training step + test on small inputs."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from bevt_mm.utils.safe_load import load_checkpoint_file
from config_shrink import shrink_recognizer_config

from experiment_names import experiment_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FINETUNE = sorted(glob.glob(osp.join(ROOT, 'configs', 'bevt', 'finetune_swin_*.py')) +
                  glob.glob(osp.join(ROOT, 'configs', 'toy', 'toy_finetune_swin_*.py')))


def test_there_are_finetune_configs():
    names = {osp.basename(p) for p in FINETUNE}
    assert {'finetune_swin_b_k400.py', 'finetune_swin_b_ssv2.py', 'finetune_swin_b_diving48.py',
            'toy_finetune_swin_spatial.py', 'toy_finetune_swin_temporal.py'} <= names


def test_k400_recipe_numbers():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/bevt/finetune_swin_b_k400.py'))
    assert cfg.model.backbone.arch == 'base' and cfg.model.backbone.window_size == (8, 7, 7)
    assert cfg.model.backbone.pretrained2d is False
    opt = cfg.optim_wrapper
    assert opt.optimizer.type == 'AdamW' and opt.optimizer.lr == 3e-4
    assert opt.optimizer.weight_decay == 0.001
    assert opt.optimizer.betas == (0.9, 0.999) and opt.type == 'AmpOptimWrapper'
    assert opt.constructor == 'SwinLayerDecayOptimWrapperConstructor'
    assert opt.paramwise_cfg.layer_decay_rate == 0.9
    assert opt.paramwise_cfg.get('layer_decay_rule', 'released') == 'released'
    assert opt.paramwise_cfg.custom_keys == {k: dict(decay_mult=0.0) for k in (
        'absolute_pos_embed', 'relative_position_bias_table', 'norm')}
    assert 'norm_decay_mult' not in opt.paramwise_cfg  # mmcv 1.x: custom keys only
    assert opt.accumulative_counts == 4 and opt.clip_grad.max_norm == 40
    assert cfg.train_cfg.max_epochs == 60
    assert cfg.model.backbone.drop_path_rate == 0.3
    assert cfg.train_dataloader.batch_size == 8 and cfg.auto_scale_lr.base_batch_size == 64
    _assert_released_finetune_schedule(cfg)
    sample = cfg.train_dataloader.dataset.pipeline[1]
    assert (sample.clip_len, sample.frame_interval) == (32, 2)
    test_sample = cfg.test_dataloader.dataset.pipeline[1]
    assert test_sample.num_clips == 4
    assert cfg.test_dataloader.dataset.pipeline[4].type == 'ThreeCrop'


def _assert_released_finetune_schedule(cfg):
    """mmcv 1.x: warm-up factor from 0.1 over 2.5 epochs (per iteration) on a cosine stepped
    per epoch over all 60 epochs from epoch 0 (curve: test_recipe_lr.py)."""
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'MMCVLinearWarmupLR' and warmup.warmup_epochs == 2.5
    assert warmup.warmup_ratio == 0.1 and warmup.hold_to_epoch_end
    assert warmup.convert_to_iter_based
    assert cosine.type == 'CosineAnnealingLR' and cosine.eta_min == 0
    assert cosine.begin == 0 and cfg.train_cfg.max_epochs == 60
    assert 'end' not in cosine and 'T_max' not in cosine  # the Runner: end = max_epochs
    assert cosine.by_epoch and not cosine.get('convert_to_iter_based', False)


def _assert_released_ssv2_optimizer(cfg):
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper' and 'constructor' not in opt  # fp16, no layer decay
    assert opt.optimizer.type == 'AdamW' and opt.optimizer.lr == 5e-4
    assert opt.optimizer.betas == (0.9, 0.999) and opt.optimizer.weight_decay == 0.05
    assert opt.get('clip_grad') is None and opt.accumulative_counts == 8
    assert opt.paramwise_cfg == dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.0),
        'relative_position_bias_table': dict(decay_mult=0.0),
        'norm': dict(decay_mult=0.0),
        'backbone': dict(lr_mult=0.1)})
    ema, = [h for h in cfg.custom_hooks if h.type == 'EMAHook']
    # mmcv 1.x EMAHook(momentum=0.0002, interval=1): ema = (1 - m) * ema + m * param every
    # iteration; mmengine's ExponentialMovingAverage: the same formula (lerp by momentum)
    assert ema.ema_type == 'ExponentialMovingAverage' and ema.momentum == 0.0002
    assert ema.get('interval', 1) == 1
    assert cfg.train_cfg.max_epochs == 60 and cfg.auto_scale_lr.base_batch_size == 64
    _assert_released_finetune_schedule(cfg)


@pytest.mark.parametrize('name', ['finetune_swin_b_ssv2.py', 'finetune_swin_b_diving48.py'])
def test_ssv2_optimizer_gives_the_released_effective_multipliers(name):
    """mmcv 1.x longest-key matching (mmengine's constructor matches the same way):
    relative tables lr x1, no decay; backbone norms lr x0.1 with decay; head x1 with decay."""
    from mmengine.optim import build_optim_wrapper
    from mmaction.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs/bevt', name))
    model_cfg = cfg.model.copy()
    model_cfg.backbone.arch = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 1, 1])
    model_cfg.cls_head.in_channels = 128
    model = MODELS.build(model_cfg)
    wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper, type='OptimWrapper'))
    names = {id(p): n for n, p in model.named_parameters()}
    groups = {names[id(p)]: g for g in wrapper.optimizer.param_groups for p in g['params']}
    assert len(groups) == len(names)
    for name_, g in groups.items():
        if 'relative_position_bias_table' in name_:
            want = (5e-4, 0.0)
        elif name_.startswith('backbone.'):
            want = (5e-5, 0.05)  # norms included: 'backbone' is longer than 'norm'
        else:
            want = (5e-4, 0.0 if 'norm' in name_ else 0.05)
        assert (g['lr'], g['weight_decay']) == pytest.approx(want, rel=1e-12), name_
    assert groups['backbone.layers.0.blocks.0.norm1.weight']['weight_decay'] == 0.05
    assert groups['cls_head.fc_cls.weight']['lr'] == 5e-4


def test_ssv2_recipe_numbers():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/bevt/finetune_swin_b_ssv2.py'))
    assert cfg.model.backbone.window_size == (16, 7, 7)
    assert cfg.model.backbone.drop_path_rate == 0.4
    assert cfg.model.cls_head.num_classes == 174 and cfg.model.cls_head.label_smooth_eps == 0.1
    types = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert 'Flip' not in types and types[1] == 'UniformSample'
    rand_aug = cfg.train_dataloader.dataset.pipeline[types.index('TorchVisionWrapper')]
    assert (rand_aug.op, rand_aug.num_ops, rand_aug.magnitude) == ('RandAugment', 4, 7)
    erasing = cfg.train_dataloader.dataset.pipeline[types.index('RandomErasing')]
    assert erasing.erase_prob == 0.25
    _assert_released_ssv2_optimizer(cfg)
    test_types = [t.type for t in cfg.test_dataloader.dataset.pipeline]
    assert cfg.test_dataloader.dataset.pipeline[1].num_clips == 1 and 'ThreeCrop' in test_types


def test_diving48_has_48_classes():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/bevt/finetune_swin_b_diving48.py'))
    assert cfg.model.cls_head.num_classes == 48
    assert cfg.model.backbone.window_size == (16, 7, 7)
    assert 'diving48' in cfg.train_dataloader.dataset.ann_file
    # no released Diving48 config: the released SSv2 recipe
    assert cfg.model.backbone.drop_path_rate == 0.4 and cfg.model.cls_head.label_smooth_eps == 0.1
    _assert_released_ssv2_optimizer(cfg)


@pytest.mark.slow
@pytest.mark.parametrize('path', FINETUNE, ids=osp.basename)
def test_finetune_config_trains_one_epoch_and_tests(path, toy_videos, tmp_path):
    cfg = shrink_recognizer_config(Config.fromfile(path), toy_videos, str(tmp_path / 'work'))
    cfg.experiment_name = experiment_name('finetune')
    runner = Runner.from_cfg(cfg)
    params = {k: v.detach().clone() for k, v in runner.model.named_parameters()}
    runner.train()
    changed = [k for k, v in runner.model.named_parameters()
               if not torch.equal(v.detach(), params[k])]
    assert changed, 'one training epoch changed no parameter'
    metrics = runner.test()
    assert 0.0 <= metrics['acc/top1'] <= 1.0
    # what it saved (stock MMAction2 recognizer, EMA where configured) loads restricted
    ckpt = load_checkpoint_file(osp.join(cfg.work_dir, 'epoch_1.pth'))
    assert {'meta', 'state_dict', 'message_hub', 'optimizer'} <= set(ckpt)
    if any(h.type == 'EMAHook' for h in cfg.get('custom_hooks', [])):
        assert 'ema_state_dict' in ckpt
    for best in glob.glob(osp.join(cfg.work_dir, 'best_*.pth')):
        load_checkpoint_file(best)


@pytest.mark.slow
def test_mim_test_runs_a_finetune_config(toy_videos, tmp_path):
    """`mim test mmaction2 <config> --checkpoint <file>` works with our configs."""
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):
        pytest.skip('openmim is not installed in this environment (make test installs it)')
    cfg = shrink_recognizer_config(
        Config.fromfile(osp.join(ROOT, 'configs/bevt/finetune_swin_b_k400.py')), toy_videos,
        str(tmp_path / 'work'), num_classes=4)
    cfg.experiment_name = experiment_name('finetune_k400')
    runner = Runner.from_cfg(cfg)
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': runner.model.state_dict(), 'meta': {}}, ckpt)
    cfg_path = str(tmp_path / 'tiny_finetune.py')
    cfg.dump(cfg_path)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([mim, 'test', 'mmaction2', cfg_path, '--checkpoint', ckpt,
                           '--work-dir', str(tmp_path / 'mim_work')],
                          capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'acc/top1' in out


def _pretraining_window(finetune_path: str) -> tuple:
    """Window of the pretraining config whose encoder a fine-tuning config loads."""
    name = 'toy/toy_joint_swin.py' if osp.basename(finetune_path).startswith('toy_') \
        else 'bevt/joint_swin_b.py'
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    return tuple(cfg.model.backbone.window_size)


@pytest.mark.slow
@pytest.mark.parametrize('path', FINETUNE, ids=osp.basename)
def test_finetune_config_loads_the_default_export_tables(path, toy_videos, tmp_path):
    """An encoder exported with the export's default window (the pretraining
    window; no ``--window-size``) loads with its relative tables: resized when
    the fine-tuning window differs (SSv2, Diving48: 16x7x7), never left random."""
    from mmaction.registry import MODELS

    from bevt_mm.models.backbones import BEVTSwinTransformer3D
    from bevt_mm.models.heads import BEVTHead
    from bevt_mm.utils.checkpoint import bevt_to_mmaction_swin, resize_relative_table
    from config_shrink import TINY_SWIN
    src_window = _pretraining_window(path)
    torch.manual_seed(0)
    backbone = BEVTSwinTransformer3D(arch=dict(TINY_SWIN), window_size=src_window,
                                     final_norm=False)
    head = BEVTHead(in_channels=TINY_SWIN['embed_dims'] * 8, num_classes=8)
    with torch.no_grad():
        for name, p in backbone.named_parameters():
            if 'relative_position_bias_table' in name:
                p.normal_(0, 1)
    ckpt = {**{f'backbone.{k}': v for k, v in backbone.state_dict().items()},
            **{f'head.{k}': v for k, v in head.state_dict().items()}}
    exported = bevt_to_mmaction_swin(ckpt, window_size=src_window)  # the CLI's default
    export_path = str(tmp_path / 'backbone.pth')
    torch.save(dict(state_dict=exported), export_path)

    cfg = shrink_recognizer_config(Config.fromfile(path), toy_videos, str(tmp_path / 'work'))
    cfg.model.backbone.pretrained = export_path
    model = MODELS.build(cfg.model)
    model.init_weights()
    window = tuple(cfg.model.backbone.window_size)
    key = 'layers.1.blocks.0.attn.relative_position_bias_table'
    expected = resize_relative_table(exported[key], src_window, window)
    torch.testing.assert_close(model.backbone.state_dict()[key], expected)
    torch.testing.assert_close(model.backbone.norm3.weight, head.norm.weight)
