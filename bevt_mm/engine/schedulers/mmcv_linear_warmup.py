"""mmcv 1.x's linear lr warm-up as an mmengine parameter scheduler.

The authors' released configs (xyzforever/BEVT) schedule the lr with mmcv 1.x's
``CosineAnnealingLrUpdaterHook(warmup='linear', warmup_by_epoch=True)``. During
warm-up it sets ``lr = regular_lr * (1 - (1 - i / W) * (1 - warmup_ratio))`` at
iteration ``i``, with ``W = warmup_epochs * epoch_length`` iterations,
``warmup_ratio`` 0.1 (mmcv's default) and ``regular_lr`` the cosine lr of the
whole run. This scheduler applies that factor,
``warmup_ratio + (1 - warmup_ratio) * i / W``, multiplicatively on whatever
the other schedulers of the list set (mmengine chains schedulers: each step
scales the current lr), so together with a ``CosineAnnealingLR`` from iteration
0 it reproduces mmcv's lr at every iteration.

mmengine's ``LinearLR`` cannot: its factor reaches 1 at iteration ``end - 1``
(``end = int(warmup_epochs * epoch_length)``), one iteration early, and it has
no fractional warm-up (2.5 epochs of an odd epoch length).

``hold_to_epoch_end`` reproduces mmcv's ``by_epoch=True`` behaviour when ``W``
is not a whole number: after the last warm-up iteration (``floor(W)``) mmcv
leaves the lr as it was until the next epoch starts. Without it (mmcv's
``by_epoch=False``), the factor is 1 from iteration ``ceil(W)``.
"""
import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from mmaction.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class MMCVLinearWarmupLR(LRSchedulerMixin, _ParamScheduler):
    """Multiply the lr by mmcv 1.x's linear warm-up factor.

    Args:
        optimizer: The wrapped optimizer.
        warmup_iters: ``W``, warm-up length in iterations (may be fractional).
        warmup_ratio: Factor at iteration 0 (mmcv's default 0.1).
        hold_to_epoch_end: Keep the last warm-up factor until the end of the
            epoch in which a fractional ``W`` ends (mmcv ``by_epoch=True``).
        epoch_length: Iterations per epoch; needed with ``hold_to_epoch_end``.
        begin, end, last_step, by_epoch, verbose: As mmengine's schedulers;
            ``end`` defaults to the first iteration where the factor is 1.

    Build from epochs with ``convert_to_iter_based=True`` and
    ``warmup_epochs`` (as the released configs' ``warmup_iters`` with
    ``warmup_by_epoch=True``)::

        dict(type='MMCVLinearWarmupLR', warmup_epochs=2.5, hold_to_epoch_end=True,
             by_epoch=True, convert_to_iter_based=True)
    """

    def __init__(self, optimizer, warmup_iters: float, warmup_ratio: float = 0.1,
                 hold_to_epoch_end: bool = False, epoch_length: int = None,
                 begin: int = 0, end: int = None, last_step: int = -1,
                 by_epoch: bool = False, verbose: bool = False):
        if not 0 < warmup_ratio <= 1:
            raise ValueError(f'MMCVLinearWarmupLR: warmup_ratio must be in (0, 1], got '
                             f'{warmup_ratio}')
        if warmup_iters <= 0:
            raise ValueError(f'MMCVLinearWarmupLR: warmup_iters must be > 0, got {warmup_iters}')
        if hold_to_epoch_end and not epoch_length:
            raise ValueError('MMCVLinearWarmupLR: hold_to_epoch_end needs epoch_length '
                             '(build it with convert_to_iter_based=True)')
        self.warmup_iters = warmup_iters
        self.warmup_ratio = warmup_ratio
        self.hold_until = math.ceil(warmup_iters)
        if hold_to_epoch_end and warmup_iters != int(warmup_iters):
            self.hold_until = (int(warmup_iters) // epoch_length + 1) * epoch_length
        if end is None:
            end = begin + self.hold_until + 1
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, warmup_epochs: float, begin: int = 0,
                              end: int = INF, by_epoch: bool = True, epoch_length: int = None,
                              **kwargs):
        """Warm-up given in epochs (``warmup_epochs``), stepped per iteration."""
        if not by_epoch or not epoch_length:
            raise ValueError('MMCVLinearWarmupLR.build_iter_from_epoch needs by_epoch=True '
                             'and the epoch length')
        return cls(*args, warmup_iters=warmup_epochs * epoch_length,
                   begin=int(begin * epoch_length),
                   end=None if end == INF else int(end * epoch_length), by_epoch=False,
                   epoch_length=epoch_length, **kwargs)

    def factor(self, step: int) -> float:
        """mmcv's warm-up factor at ``step`` iterations after ``begin``."""
        if step >= self.hold_until:
            return 1.0
        step = min(step, math.floor(self.warmup_iters))
        return 1 - (1 - step / self.warmup_iters) * (1 - self.warmup_ratio)

    def _get_value(self):
        step = self.last_step
        ratio = self.factor(step) / (self.factor(step - 1) if step > 0 else 1.0)
        return [group[self.param_name] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * self.factor(self.last_step) for base in self.base_values]
