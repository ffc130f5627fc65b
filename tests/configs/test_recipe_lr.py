"""Every config's learning rate: --auto-scale-lr on 8 and 32 GPUs against its header, and the
lr curve its param_scheduler gives in mmengine's Runner against mmcv 1.x's formulas.

The released configs (xyzforever/BEVT) ran mmcv 1.x ``LrUpdaterHook``s: a linear warm-up
from ``warmup_ratio`` 0.1 (mmcv's default) multiplying the *regular* cosine lr, which spans
the whole run from iteration 0. mmcv 1.x formulas, written out here:

    annealing_cos(start, end, f) = end + 0.5 * (start - end) * (cos(pi * f) + 1)
    regular lr = annealing_cos(base_lr, min_lr=0, progress / max_progress)
        progress = runner.iter / max_iters (by_epoch=False, pretraining)
                 = runner.epoch / max_epochs (by_epoch=True, fine-tuning)
    warm-up (cur_iter < warmup_iters = warmup_epochs * epoch_len):
        lr = regular_lr * (1 - (1 - cur_iter / warmup_iters) * (1 - warmup_ratio))
"""
import glob
import math
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from experiment_names import experiment_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
_NUM = r'([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)'
HEADER_LR = re.compile(rf'8 GPUs -> lr {_NUM},\s*#?\s*32 GPUs -> lr {_NUM}')


def annealing_cos(start, end, factor):
    """mmcv 1.x ``mmcv.runner.hooks.lr_updater.annealing_cos``."""
    return end + 0.5 * (start - end) * (math.cos(math.pi * factor) + 1)


def mmcv_cosine_with_linear_warmup(base_lr, i, epoch_len, max_epochs, warmup_epochs,
                                   by_epoch, warmup_ratio=0.1):
    """lr of iteration ``i`` under mmcv 1.x CosineAnnealingLrUpdaterHook(min_lr=0,
    warmup='linear', warmup_by_epoch=True, warmup_iters=warmup_epochs)."""
    if by_epoch:
        regular = annealing_cos(base_lr, 0, (i // epoch_len) / max_epochs)
    else:
        regular = annealing_cos(base_lr, 0, i / (max_epochs * epoch_len))
    warmup_iters = warmup_epochs * epoch_len
    if i < warmup_iters:
        return regular * (1 - (1 - i / warmup_iters) * (1 - warmup_ratio))
    return regular


def toy_linear_then_cosine(base_lr, i, epoch_len, max_epochs, warmup_epochs=1,
                           start_factor=0.1):
    """The toy configs' simpler schedule: mmengine's LinearLR from ``start_factor`` over
    ``warmup_epochs`` (it reaches 1 at the warm-up's last iteration), then a cosine to 0
    over the remaining epochs (per iteration)."""
    w, n = warmup_epochs * epoch_len, max_epochs * epoch_len
    if i < w:
        return base_lr * (start_factor + (1 - start_factor) * i / (w - 1))
    return base_lr * 0.5 * (1 + math.cos(math.pi * (i - w) / (n - w)))


def stock_multistep(base_lr, i, epoch_len, milestones=(5, 10), gamma=0.1):
    """MMAction2's TimeSformer K400 recipe: MultiStepLR per epoch."""
    return base_lr * gamma ** sum(i // epoch_len >= m for m in milestones)


def expected_lr(name, cfg, i, epoch_len):
    """The lr a config's header promises at iteration ``i`` (None: not covered)."""
    base = cfg.optim_wrapper.optimizer.lr
    if name.startswith('toy_'):
        return toy_linear_then_cosine(base, i, epoch_len, cfg.train_cfg.max_epochs)
    if name == 'finetune_timesformer_b_k400.py':
        return stock_multistep(base, i, epoch_len)
    if name.startswith('finetune_'):  # released fine-tuning: cosine per epoch, 2.5 warm-up
        return mmcv_cosine_with_linear_warmup(base, i, epoch_len, 60, 2.5, by_epoch=True)
    # released joint pretraining: cosine per iteration, 10 warm-up epochs
    return mmcv_cosine_with_linear_warmup(base, i, epoch_len, cfg.train_cfg.max_epochs, 10,
                                          by_epoch=False)


class _OneParam(BaseModel):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, *args, mode='loss', **kwargs):
        return dict(loss=self.w.sum() * 0.0)


class _RecordLr(Hook):
    def __init__(self):
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.lrs.append(runner.optim_wrapper.param_groups[0]['lr'])


def _light_runner(cfg, work_dir, epoch_len=1, max_epochs=1, record=None, loader=None):
    """mmengine's Runner with the config's optimizer type, lr and param_scheduler on a
    one-parameter model and a dataset of ``epoch_len`` batches (or ``loader``, unbuilt)."""
    return Runner(
        experiment_name=experiment_name('recipe_lr'),
        model=_OneParam(), work_dir=work_dir, cfg=cfg,
        train_dataloader=loader or dict(dataset=list(range(epoch_len)), batch_size=1,
                                        sampler=dict(type='DefaultSampler', shuffle=False),
                                        collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(cfg.optim_wrapper.optimizer)),
        param_scheduler=cfg.get('param_scheduler'),
        default_hooks=dict(checkpoint=None, logger=None),
        custom_hooks=[record] if record else None,
        default_scope='mmaction')


def test_every_config_is_covered():
    assert len(CONFIGS) >= 12


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_auto_scale_lr_gives_the_header_lr_on_8_and_32_gpus(path, tmp_path):
    """Runner.scale_lr, mmengine's own code path for --auto-scale-lr."""
    cfg = Config.fromfile(path)
    stated = HEADER_LR.search(open(path).read())
    assert stated, f'{osp.basename(path)} does not state "8 GPUs -> lr X, 32 GPUs -> lr Y"'
    assert cfg.auto_scale_lr.base_batch_size > 0
    runner = _light_runner(cfg, str(tmp_path), loader=cfg.train_dataloader)
    for gpus, want in zip((8, 32), map(float, stated.groups())):
        runner._world_size = gpus  # what init_dist gives on that many GPUs
        wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
        runner.scale_lr(wrapper, dict(cfg.auto_scale_lr, enable=True))
        assert wrapper.param_groups[0]['lr'] == pytest.approx(want, rel=1e-9), \
            f'{osp.basename(path)} on {gpus} GPUs'


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_lr_curve_matches_the_stated_schedule(path, tmp_path):
    """The runner's lr at every iteration (0, warm-up, its end, mid, last among them)."""
    name = osp.basename(path)
    cfg = Config.fromfile(path)
    epochs = cfg.train_cfg.max_epochs
    # whole-number warm-ups: 2.5 x 2 (fine-tuning), 10 x 1 (pretraining), 1 x 2 (toys)
    epoch_len = 2 if 'finetune' in name or name.startswith('toy_') else 1
    record = _RecordLr()
    runner = _light_runner(cfg, str(tmp_path), epoch_len, epochs, record)
    runner.train()
    assert len(record.lrs) == epochs * epoch_len
    for i, lr in enumerate(record.lrs):
        assert lr == pytest.approx(expected_lr(name, cfg, i, epoch_len), rel=1e-9, abs=1e-15), \
            f'{name} iteration {i}'


def test_released_schedules_start_at_a_tenth_and_warm_up_on_the_cosine():
    """Spot values of the formula itself (joint: 150 epochs, 10 warm-up; 1000 it/epoch)."""
    lr = lambda i: mmcv_cosine_with_linear_warmup(5e-4, i, 1000, 150, 10, by_epoch=False)  # noqa
    assert lr(0) == pytest.approx(5e-5)
    assert lr(10000) == pytest.approx(annealing_cos(5e-4, 0, 10 / 150))  # < 5e-4: on the cosine
    assert lr(5000) == pytest.approx(0.55 * annealing_cos(5e-4, 0, 5 / 150))
    ft = lambda i: mmcv_cosine_with_linear_warmup(3e-4, i, 100, 60, 2.5, by_epoch=True)  # noqa
    assert ft(0) == pytest.approx(3e-5)
    assert ft(99) == pytest.approx(3e-4 * (0.1 + 0.9 * 99 / 250))
    assert ft(150) == pytest.approx(annealing_cos(3e-4, 0, 1 / 60) * 0.64)
    assert ft(5999) == pytest.approx(annealing_cos(3e-4, 0, 59 / 60))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_every_config_states_the_source_of_its_numbers(path):
    """Recipe configs name their sources (released config [R] / paper [P] / MMAction2 [M]);
    toy configs say that their numbers are toy numbers."""
    header = open(path).read().split('_base_ =')[0]
    if osp.basename(path).startswith('toy_'):
        assert 'Toy numbers' in header
    else:
        assert 'Sources' in header and re.search(r'\[(R|P|M)\]', header), osp.basename(path)
