"""Stop training at the first non-finite loss, keeping the last good checkpoint."""
import math
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook

from mmaction.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` when a logged loss is NaN or infinite.

    It runs right after the iteration that produced the loss and before the
    checkpoint hook (priority ``ABOVE_NORMAL`` vs ``VERY_LOW``), so the weights
    touched by that iteration are never saved: the last checkpoint on disk is
    the last good one, and the message names the iteration, every offending
    value and that checkpoint.

    Args:
        check_every: Check every this many iterations (1: every iteration).
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_every: int = 1) -> None:
        self.check_every = check_every

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.check_every):
            return
        bad = {}
        for name, value in outputs.items():
            if 'loss' not in name:
                continue
            number = (float(value.detach().float().mean()) if torch.is_tensor(value)
                      else float(value))
            if not math.isfinite(number):
                bad[name] = number
        if not bad:
            return
        last = None
        if runner.work_dir:
            from mmengine.runner.checkpoint import find_latest_checkpoint
            last = find_latest_checkpoint(runner.work_dir)
        losses = ', '.join(f'{k}={v}' for k, v in sorted(bad.items()))
        raise FloatingPointError(
            f'Non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): {losses}. '
            f'Training stopped before saving these weights; last good checkpoint: '
            f'{last or "none saved yet"}. Resume from it with a lower lr, stronger grad clipping '
            '(optim_wrapper.clip_grad) or fp32, or check the inputs of this iteration.')
