"""A run resumed on fewer processes keeps its epoch schedule in epochs.

Schedules given in epochs with ``convert_to_iter_based=True`` (every BEVT
recipe) are converted with the iterations per epoch of the run that builds
them; mmengine's resume loads the checkpoint's converted counts. A preempted
2-process run resumed on 1 process with the same per-process batch has twice
the iterations per epoch: the cosine ran out half-way and the rest trained at
its final value (epoch 3 at a constant lr). ``ResumeHook`` rescales the
schedules to the resumed run's epoch length, with a warning.

A real 2-process gloo run (``tools/dist_train.sh``) of the shrunk toy joint
recipe (1 video + 1 image per process and batch, 4 videos: 2 iterations per
epoch) stops after epoch 1 of a 3-epoch schedule (linear warm-up in epoch 1,
cosine over epochs 2-3); ``--resume`` with 1 process (4 iterations per epoch)
must train epochs 2-3 on the cosine over 8 iterations.
"""
import json
import math
import os.path as osp
import socket
from argparse import Namespace

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import toy_run
from bevt_mm.engine import merge_train_args
from bevt_mm.utils.safe_load import load_checkpoint_file

from experiment_names import experiment_name


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_resume_on_fewer_processes_follows_the_epoch_schedule(rel_media, rel_tokenizer,
                                                              tmp_path):
    work, config = str(tmp_path / 'work'), str(tmp_path / 'toy_epochs.py')
    cfg = toy_run.toy_config(rel_media, rel_tokenizer, work, config, videos=1, images=1)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
             convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', T_max=2, eta_min=0, by_epoch=True, begin=1, end=3,
             convert_to_iter_based=True)]
    cfg.default_hooks.checkpoint.update(by_epoch=True, interval=1)
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.type != 'ProbeHook']  # time
    cfg.dump(config)
    env = toy_run.env()
    env['PORT'] = str(_free_port())
    toy_run.run(['bash', osp.join(toy_run.ROOT, 'tools', 'dist_train.sh'), config, '2',
                 '--cfg-options', 'train_cfg.max_epochs=1'], env=env, timeout=300)
    saved = load_checkpoint_file(osp.join(work, 'epoch_1.pth'))
    assert saved['meta']['iter'] == 2  # 2 iterations per epoch with 2 processes

    args = Namespace(config=config, work_dir=work, resume='auto', amp=False,
                     no_validate=False, auto_scale_lr=False, seed=None, diff_rank_seed=False,
                     deterministic=False, cfg_options=None, launcher='none')
    resumed_cfg = merge_train_args(Config.fromfile(config), args)
    resumed_cfg.experiment_name = experiment_name('world_size')
    runner = Runner.from_cfg(resumed_cfg)
    runner.train()
    assert runner.epoch == 3
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        lrs = [row['lr'] for row in map(json.loads, f) if 'lr' in row]
    base = cfg.optim_wrapper.optimizer.lr
    # epochs 2-3 = 8 iterations of 1 process: the cosine from base to 0 over 8 iterations
    expected = [base * (1 + math.cos(math.pi * j / 8)) / 2 for j in range(8)]
    assert lrs == pytest.approx(expected, rel=1e-6), (lrs, expected)
    with open(osp.join(runner.log_dir, osp.basename(runner.log_dir) + '.log')) as f:
        assert 'rescaled by 4/2 to follow epochs' in f.read()
