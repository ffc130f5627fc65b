"""MMCVLinearWarmupLR + CosineAnnealingLR against mmcv 1.x's LrUpdaterHook, step by step,
including warm-ups that end mid-iteration (2.5 epochs of an odd epoch length)."""
import math

import pytest
import torch
from mmengine.optim import OptimWrapper

import bevt_mm  # noqa: F401
from mmaction.registry import PARAM_SCHEDULERS


def mmcv_lrs(base, epoch_len, epochs, warmup_epochs, by_epoch, ratio=0.1):
    """mmcv 1.x CosineAnnealingLrUpdaterHook(min_lr=0, warmup='linear', warmup_by_epoch=True),
    before_train_epoch / before_train_iter as in mmcv/runner/hooks/lr_updater.py."""
    def annealing_cos(start, end, f):
        return end + 0.5 * (start - end) * (math.cos(math.pi * f) + 1)

    warmup_iters, lr, out = warmup_epochs * epoch_len, None, []
    for epoch in range(epochs):
        if by_epoch:
            regular = annealing_cos(base, 0, epoch / epochs)
            lr = regular
        for k in range(epoch_len):
            i = epoch * epoch_len + k
            if not by_epoch:
                regular = annealing_cos(base, 0, i / (epochs * epoch_len))
                lr = regular if i >= warmup_iters else \
                    regular * (1 - (1 - i / warmup_iters) * (1 - ratio))
            elif i < warmup_iters:
                lr = regular * (1 - (1 - i / warmup_iters) * (1 - ratio))
            elif i == warmup_iters:
                lr = regular
            out.append(lr)
    return out


def mmengine_lrs(base, epoch_len, epochs, warmup_epochs, by_epoch):
    """The configs' schedulers, stepped as mmengine's ParamSchedulerHook steps them."""
    wrapper = OptimWrapper(torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=base))
    cfgs = [dict(type='MMCVLinearWarmupLR', warmup_epochs=warmup_epochs, warmup_ratio=0.1,
                 hold_to_epoch_end=by_epoch, by_epoch=True, convert_to_iter_based=True),
            dict(type='CosineAnnealingLR', T_max=epochs, eta_min=0, by_epoch=True, begin=0,
                 end=epochs, convert_to_iter_based=not by_epoch)]
    scheds = [PARAM_SCHEDULERS.build(c, default_args=dict(optimizer=wrapper,
                                                          epoch_length=epoch_len))
              for c in cfgs]
    out = []
    for _ in range(epochs):
        for _ in range(epoch_len):
            out.append(wrapper.param_groups[0]['lr'])
            wrapper.optimizer.step()
            for s in scheds:
                if not s.by_epoch:
                    s.step()
        for s in scheds:
            if s.by_epoch:
                s.step()
    return out


@pytest.mark.parametrize('epoch_len', [2, 3, 7])
@pytest.mark.parametrize('by_epoch,warmup_epochs,epochs', [(True, 2.5, 12), (False, 2.5, 12),
                                                           (False, 10, 20)])
def test_matches_mmcv_at_every_iteration(epoch_len, by_epoch, warmup_epochs, epochs):
    want = mmcv_lrs(3e-4, epoch_len, epochs, warmup_epochs, by_epoch)
    got = mmengine_lrs(3e-4, epoch_len, epochs, warmup_epochs, by_epoch)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-15)


def test_mmengine_linear_lr_is_one_iteration_early():
    """Why a scheduler of our own: LinearLR(end=W) reaches factor 1 at W - 1, mmcv at W."""
    wrapper = OptimWrapper(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    linear = PARAM_SCHEDULERS.build(dict(type='LinearLR', start_factor=0.1, begin=0, end=4,
                                         by_epoch=False), default_args=dict(optimizer=wrapper))
    lrs = []
    for _ in range(5):
        lrs.append(wrapper.param_groups[0]['lr'])
        linear.step()
    assert lrs[3] == pytest.approx(1.0)  # mmcv: 0.1 + 0.9 * 3 / 4 = 0.775
    assert mmcv_lrs(1.0, 4, 1000, 1, by_epoch=True)[3] == pytest.approx(0.775)


def test_clear_errors():
    wrapper = OptimWrapper(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    with pytest.raises(ValueError, match='warmup_ratio'):
        PARAM_SCHEDULERS.build(dict(type='MMCVLinearWarmupLR', warmup_iters=5, warmup_ratio=0),
                               default_args=dict(optimizer=wrapper))
    with pytest.raises(ValueError, match='epoch_length'):
        PARAM_SCHEDULERS.build(dict(type='MMCVLinearWarmupLR', warmup_iters=5,
                                    hold_to_epoch_end=True), default_args=dict(optimizer=wrapper))
