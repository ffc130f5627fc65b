"""Save the random number generators' states in checkpoints and restore them on resume.

mmengine 0.10.7 checkpoints hold the model, optimizer, schedulers and the
iteration, but not the RNG states. A resumed run re-seeds its generators, so
drop path, masks and augmentations after the resume point differ from those
of an uninterrupted run (measured on the toy recipe: losses 4.5649 vs 4.5644
two iterations after resuming). :class:`RNGStateHook` stores the states of
Python's ``random``, NumPy's global generator, torch (and CUDA) of every rank
in the checkpoint and puts them back right before training continues
(``before_train``, after the checkpoint and the schedulers are loaded), so a
deterministic run resumed from iteration ``k`` computes the same losses as
the uninterrupted run (``tests/reliability/test_kill_resume.py``).

Scope: the states of the training processes. Dataloader workers
(``num_workers > 0``) draw augmentations from their own generators, which
cannot be checkpointed; with workers, the sample order after a resume is
still exact (the sampler is resumable) but random augmentations are not.
"""
import random
import warnings
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook

from mmaction.registry import HOOKS

KEY = 'rng_states'


def get_rng_state() -> Dict[str, Any]:
    """States of ``random``, ``numpy.random``, torch and CUDA in this process."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Inverse of :func:`get_rng_state`."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Checkpoint the RNG states of every rank; restore them on resume.

    With several processes, the states of all ranks are gathered after each
    iteration and epoch (before the checkpoint hook saves, which only rank 0
    does), so rank ``r`` gets its own state back. Resuming with a different
    number of processes keeps the freshly seeded generators (with a warning).
    """

    # after_train_iter: before CheckpointHook (VERY_LOW); before_train: after the others
    priority = 'LOW'

    def __init__(self) -> None:
        self._gathered: Optional[List[Dict[str, Any]]] = None
        self._pending: Optional[List[Dict[str, Any]]] = None

    def _gather(self) -> None:
        _, world_size = get_dist_info()
        if world_size > 1:
            self._gathered = all_gather_object(get_rng_state())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._gather()

    def after_train_epoch(self, runner) -> None:
        self._gather()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        _, world_size = get_dist_info()
        states = self._gathered if world_size > 1 else None
        checkpoint[KEY] = states if states is not None else [get_rng_state()]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get(KEY)

    def before_train(self, runner) -> None:
        pending, self._pending = self._pending, None
        if pending is None or (runner.iter == 0 and runner.epoch == 0):
            return  # fresh run, or weights loaded with load_from
        rank, world_size = get_dist_info()
        if len(pending) != world_size:
            warnings.warn(f'RNGStateHook: the checkpoint holds RNG states of {len(pending)} '
                          f'process(es), this run has {world_size}; random draws after the '
                          'resume point will differ from the interrupted run.')
            return
        set_rng_state(pending[rank])
