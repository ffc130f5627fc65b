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

from bevt_mm.engine.safe_load import load_checkpoint_file
from config_shrink import shrink_recognizer_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FINETUNE = sorted(glob.glob(osp.join(ROOT, 'configs', 'bevt', 'finetune_swin_*.py')) +
                  glob.glob(osp.join(ROOT, 'configs', 'bevt', 'toy_finetune_swin_*.py')))


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
    assert opt.constructor == 'SwinLayerDecayOptimWrapperConstructor'
    assert opt.paramwise_cfg.layer_decay_rate == 0.9
    assert opt.accumulative_counts == 4 and opt.clip_grad.max_norm == 40
    assert cfg.train_cfg.max_epochs == 60
    warmup, cosine = cfg.param_scheduler
    assert warmup.end == 2.5 and cosine.type == 'CosineAnnealingLR' and cosine.end == 60
    sample = cfg.train_dataloader.dataset.pipeline[1]
    assert (sample.clip_len, sample.frame_interval) == (32, 2)
    test_sample = cfg.test_dataloader.dataset.pipeline[1]
    assert test_sample.num_clips == 4
    assert cfg.test_dataloader.dataset.pipeline[4].type == 'ThreeCrop'


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
    assert cfg.optim_wrapper.accumulative_counts == 8
    assert any(h.type == 'EMAHook' for h in cfg.custom_hooks)
    test_types = [t.type for t in cfg.test_dataloader.dataset.pipeline]
    assert cfg.test_dataloader.dataset.pipeline[1].num_clips == 1 and 'ThreeCrop' in test_types


def test_diving48_has_48_classes():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/bevt/finetune_swin_b_diving48.py'))
    assert cfg.model.cls_head.num_classes == 48
    assert cfg.model.backbone.window_size == (16, 7, 7)
    assert 'diving48' in cfg.train_dataloader.dataset.ann_file


@pytest.mark.parametrize('path', FINETUNE, ids=osp.basename)
def test_finetune_config_trains_one_epoch_and_tests(path, toy_videos, tmp_path):
    cfg = shrink_recognizer_config(Config.fromfile(path), toy_videos, str(tmp_path / 'work'))
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


def test_mim_test_runs_a_finetune_config(toy_videos, tmp_path):
    """`mim test mmaction2 <config> --checkpoint <file>` works with our configs."""
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):
        pytest.skip('openmim is not installed in this environment (make test installs it)')
    cfg = shrink_recognizer_config(
        Config.fromfile(osp.join(ROOT, 'configs/bevt/finetune_swin_b_k400.py')), toy_videos,
        str(tmp_path / 'work'), num_classes=4)
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
