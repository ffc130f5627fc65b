"""Save gradients accumulated but not yet applied in checkpoints; restore them on resume.

With ``optim_wrapper.accumulative_counts=N`` mmengine steps the optimizer
after every ``N``-th iteration, counted over the whole run
(``OptimWrapper._inner_count``), so a checkpoint written when that count is
not a multiple of ``N`` (an epoch of 3 iterations with ``N=2``, or an
iteration checkpoint between steps) holds weights whose next step still
needs the gradients of the last ``count % N`` iterations. mmengine does not
save them: a resumed run steps with the new iterations' gradients only (it
warns that "the gradient of some iterations is lost") and drifts from the
uninterrupted run (docs/reliability.md).

This hook stores those gradients in the checkpoint (key
``accumulated_grads``, only when some are pending) and puts them back into
``param.grad`` before the resumed run's first iteration, so the next step is
the uninterrupted run's. With several processes the pending gradients are
each rank's own (DDP does not synchronize inside an accumulation); the hook
stores their mean over ranks and restores it on every rank, which gives the
same synchronized step (DDP averages the sums), up to float rounding. The
all-reduce runs only at the end of an iteration or epoch whose checkpoint is
written while gradients are pending. The checkpoint grows by one gradient
copy (fp32, the size of the trained parameters) in that case only.
"""
from typing import Dict, Optional

import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_reduce_params, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper
from torch import Tensor

KEY = 'accumulated_grads'


def pending_iterations(runner) -> int:
    """Iterations whose gradients are accumulated but not yet applied."""
    wrapper = runner.optim_wrapper
    counts = getattr(wrapper, '_accumulative_counts', 1)
    inner = getattr(wrapper, '_inner_count', 0)
    if counts <= 1 or inner == getattr(wrapper, '_max_counts', -1):
        return 0
    return inner % counts


def _model(runner) -> torch.nn.Module:
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def _grads(runner) -> Dict[str, Tensor]:
    return {name: p.grad.detach() for name, p in _model(runner).named_parameters()
            if p.grad is not None}


@HOOKS.register_module()
class AccumulatedGradsHook(Hook):
    """Checkpoint the gradients of an unfinished accumulation; restore them on resume.

    Add it to ``custom_hooks`` of a config with ``accumulative_counts > 1``
    (a no-op otherwise).
    """

    # after_train_iter/epoch: before CheckpointHook (VERY_LOW) saves
    priority = 'LOW'

    def __init__(self) -> None:
        self._reduced: Optional[Dict[str, Tensor]] = None
        self._pending: Optional[dict] = None

    def _reduce(self, runner) -> None:
        """Mean over ranks of the pending gradients (all ranks call it)."""
        _, world_size = get_dist_info()
        if world_size == 1 or not pending_iterations(runner):
            return
        # Every rank reduces the same list (each trainable parameter, zeros where this rank has
        # no gradient, plus one has-gradient flag per parameter) in one coalesced call: which
        # parameters hold a gradient can differ between ranks between DDP syncs.
        params = [(name, p) for name, p in _model(runner).named_parameters() if p.requires_grad]
        grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                 for _, p in params]
        flags = torch.tensor([float(p.grad is not None) for _, p in params],
                             device=grads[0].device if grads else None)
        all_reduce_params(grads + [flags], coalesce=True, op='mean')
        self._reduced = {name: g for (name, _), g, flag in zip(params, grads, flags.tolist())
                         if flag > 0}

    def _saves_now(self, runner, by_epoch: bool) -> bool:
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook.by_epoch == by_epoch:
                if by_epoch:
                    return (self.every_n_epochs(runner, hook.interval)
                            or self.is_last_train_epoch(runner))
                return (self.every_n_train_iters(runner, hook.interval)
                        or self.is_last_train_iter(runner))
        return False

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._reduced = None  # the gradients change from here on

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._saves_now(runner, by_epoch=False):
            self._reduce(runner)

    def after_train_epoch(self, runner) -> None:
        if self._saves_now(runner, by_epoch=True):
            self._reduce(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        pending = pending_iterations(runner)
        if not pending:
            return
        _, world_size = get_dist_info()
        grads = self._reduced if world_size > 1 else _grads(runner)
        if grads is None:
            runner.logger.warning(
                f'AccumulatedGradsHook: {pending} iteration(s) of accumulated gradients not '
                'gathered for this checkpoint; a resume from it steps without them')
            return
        checkpoint[KEY] = dict(inner_count=runner.optim_wrapper._inner_count,
                               grads={k: v.cpu() for k, v in grads.items()})

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get(KEY)

    def before_train(self, runner) -> None:
        saved, self._pending = self._pending, None
        if saved is None or (runner.iter == 0 and runner.epoch == 0):
            return  # nothing pending, or weights loaded with load_from
        inner = runner.optim_wrapper._inner_count
        if saved['inner_count'] != inner:
            runner.logger.warning(
                f'AccumulatedGradsHook: the checkpoint holds gradients accumulated up to '
                f'iteration {saved["inner_count"]}, the run resumes at {inner}; not restored')
            return
        params = dict(_model(runner).named_parameters())
        missing = sorted(set(saved['grads']) - set(params))
        if missing:
            runner.logger.warning(f'AccumulatedGradsHook: no parameter for saved gradients '
                                  f'{missing[:3]}...; not restored')
            return
        for name, grad in saved['grads'].items():
            p = params[name]
            p.grad = grad.to(device=p.device, dtype=p.dtype)
        runner.logger.info(
            f'AccumulatedGradsHook: restored the gradients of '
            f'{inner % runner.optim_wrapper._accumulative_counts} accumulated iteration(s) '
            'from the checkpoint (mmengine\'s warning that they are lost does not apply)')
