"""Resume a run where it stopped, also after its work dir moved or its process count changed.

mmengine 0.10.7 resumes (``resume=True``, ``--resume``) from the path written
in ``<work_dir>/last_checkpoint``, an absolute path: after the experiment
folder is moved or copied (another mount, another cluster) it names the old
location, and a work dir holding checkpoints but no ``last_checkpoint`` starts
from scratch and overwrites them. And schedules given in epochs with
``convert_to_iter_based=True`` are converted with the iterations per epoch of
the run that builds them, but a resume loads the checkpoint's converted counts:
resumed on fewer processes (more iterations per epoch), a cosine ran out after
a fraction of the remaining epochs and trained the rest at its final value.

:class:`ResumeHook` (in the pretraining and fine-tuning configs) resumes the
checkpoint of the work dir itself (:func:`latest_checkpoint`), and rescales
the converted schedules of a resumed run to this run's iterations per epoch,
with a warning naming both process counts.
"""
import logging
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler

from mmaction.registry import HOOKS

from .rng_state import built_train_loader

KEY = 'epoch_length'
#: Scheduler state that is progress or value, not the schedule's shape.
_PROGRESS = frozenset(('last_step', '_global_step', 'base_values', '_last_value', 'verbose'))
_CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def named_checkpoint(work_dir: str) -> str:
    """The path written in ``<work_dir>/last_checkpoint`` ('' without one)."""
    save_file = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(save_file):
        return ''
    with open(save_file) as f:
        return f.read().strip()


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a resume of ``work_dir`` continues from.

    * ``last_checkpoint`` names a file: that file as found in ``work_dir`` by its
      base name (the folder may have been moved or copied), else at the path
      written (``CheckpointHook(out_dir=...)`` keeps checkpoints elsewhere);
    * no ``last_checkpoint``: the checkpoint of ``work_dir`` with the highest
      ``epoch_N.pth`` / ``iter_N.pth`` number (files copied without it);
    * no checkpoint at all: None (the run starts as a fresh run).

    Args:
        work_dir: The run's work dir.

    Returns:
        str or None: Path of the checkpoint.

    Raises:
        FileNotFoundError: ``last_checkpoint`` names a file found neither in
            ``work_dir`` nor at its path, or the work dir holds both epoch and
            iteration checkpoints without ``last_checkpoint``; the message names
            the checkpoints there and how to resume from one of them.
    """
    if not osp.isdir(work_dir):
        return None
    found = sorted((m.group(1), int(m.group(2)), name) for name in os.listdir(work_dir)
                   for m in [_CHECKPOINT_NAME.match(name)] if m)
    listing = ', '.join(name for *_, name in found) or 'no epoch_N.pth/iter_N.pth file'
    how = ('resume from one of them with --resume PATH (tools/train.py; or resume=True '
           'load_from=PATH in the config)')
    save_file = osp.join(work_dir, 'last_checkpoint')
    named = named_checkpoint(work_dir)
    if named:
        local = osp.join(work_dir, osp.basename(named))
        for path in (local, named):
            if osp.isfile(path):
                return path
        raise FileNotFoundError(
            f'{save_file} names {named}, which is neither in the work dir nor at that path '
            f'(the work dir holds: {listing}). Put the file back in {work_dir}, or {how}.')
    if not found:
        return None
    if len({kind for kind, *_ in found}) > 1:
        raise FileNotFoundError(f'{work_dir} has no last_checkpoint and holds epoch and '
                                f'iteration checkpoints ({listing}): {how}.')
    return osp.join(work_dir, max(found)[2])


def _iters_per_epoch(runner) -> Optional[int]:
    loader = built_train_loader(runner)
    try:
        return len(loader) if loader is not None else None
    except TypeError:  # an iterable dataset without a length
        return None


def _pairs(built, saved) -> List[Tuple[_ParamScheduler, dict]]:
    if isinstance(built, dict) and isinstance(saved, dict):
        return [p for name in built for p in _pairs(built[name], saved.get(name, []))]
    if isinstance(built, (list, tuple)) and isinstance(saved, (list, tuple)):
        return [(b, s) for b, s in zip(built, saved)
                if isinstance(b, _ParamScheduler) and isinstance(s, dict)]
    return []


def _converted(built: _ParamScheduler, saved: dict, old: int, new: int) -> bool:
    """Whether ``built`` and ``saved`` are one epoch schedule converted with ``new`` and
    ``old`` iterations per epoch (``begin``/``end`` proportional up to rounding)."""
    if built.by_epoch or saved.get('by_epoch', True):
        return False
    spans = [(saved.get(k), getattr(built, k)) for k in ('begin', 'end')]
    if any(not isinstance(s, int) for s, _ in spans) or all(s == b for s, b in spans):
        return False
    return all((s == b == INF) or (s != INF and b != INF and abs(s * new - b * old) < max(old, new))
               for s, b in spans)


def rescale_schedulers(built, saved, old: int, new: int) -> List[str]:
    """Convert the checkpointed state of epoch schedules from ``old`` to ``new``
    iterations per epoch, in place.

    The shape of the schedule (``begin``, ``end``, ``T_max``, milestones ...) is
    taken from the scheduler this run built from the config; the progress
    (``_global_step``: scheduler steps taken, ``last_step``: steps taken inside
    ``[begin, end)``) is rescaled to the same fraction of epochs.

    Args:
        built: The run's schedulers (a list, or a dict of lists per optimizer).
        saved: ``checkpoint['param_schedulers']``, of the same layout.
        old: Iterations per epoch of the run that wrote the checkpoint.
        new: Iterations per epoch of this run.

    Returns:
        list[str]: Class names of the rescaled schedulers.
    """
    names = []
    for sched, state in _pairs(built, saved):
        if not _converted(sched, state, old, new):
            continue
        state.update({k: v for k, v in sched.state_dict().items() if k not in _PROGRESS})
        step = round(state.get('_global_step', 0) * new / old)
        state['_global_step'] = step
        # mmengine's last_step: -1, +1 for every global step 0..step inside [begin, end)
        state['last_step'] = max(0, min(step + 1, sched.end) - sched.begin) - 1
        names.append(type(sched).__name__)
    return names


@HOOKS.register_module()
class ResumeHook(Hook):
    """Resume the work dir's own checkpoint; keep epoch schedules in epochs on resume.

    * ``before_run`` (before mmengine resolves the checkpoint): with
      ``resume=True`` and no ``load_from``, resume :func:`latest_checkpoint`
      instead of the path ``last_checkpoint`` holds.
    * Checkpoints store the iterations per epoch and the number of processes
      (key ``epoch_length``); a resume with another number of iterations per
      epoch (other process count or per-process batch) rescales the schedules
      converted from epochs (``convert_to_iter_based=True``) with a warning, so
      the schedule follows epochs. Iteration-based schedules keep their counts.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        if not getattr(runner, '_resume', False) or runner._load_from is not None:
            return
        path = latest_checkpoint(runner.work_dir)
        if path is not None and path != named_checkpoint(runner.work_dir):
            runner._load_from = path  # mmengine resumes a given checkpoint as is
            print_log(f'ResumeHook: resuming the latest checkpoint of the work dir, {path}',
                      logger='current')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        length = _iters_per_epoch(runner)
        if length:
            checkpoint[KEY] = dict(iters_per_epoch=length, world_size=get_world_size())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved: Dict = checkpoint.get(KEY) or {}
        new = _iters_per_epoch(runner)
        old = saved.get('iters_per_epoch')
        meta = checkpoint.get('meta') or {}
        if old is None and meta.get('epoch') and meta.get('iter', 0) % meta['epoch'] == 0:
            old = meta['iter'] // meta['epoch']  # epoch checkpoints written without the hook
        if (not getattr(runner, '_resume', False) or not new or not old or old == new
                or 'param_schedulers' not in checkpoint):
            return
        names = rescale_schedulers(runner.param_schedulers, checkpoint['param_schedulers'],
                                   old, new)
        if names:
            procs = saved.get('world_size', '?')
            print_log(f'ResumeHook: the checkpoint was written with {old} iterations per epoch '
                      f'({procs} process(es)), this run has {new} ({get_world_size()} '
                      f'process(es)): the schedules given in epochs ({", ".join(names)}) are '
                      f'rescaled by {new}/{old} to follow epochs.', logger='current',
                      level=logging.WARNING)
