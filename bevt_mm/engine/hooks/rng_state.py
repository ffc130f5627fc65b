"""Save the random state of a run in its checkpoints and restore it on resume.

mmengine 0.10.7 checkpoints hold the model, optimizer, schedulers, the
iteration and the run's seed, but not the generators' states, and the train
dataloader is built before the checkpoint is read: a resumed run draws drop
path, masks and augmentations from freshly seeded generators, and a run
started without a seed (``randomness=dict(seed=None)``, as the paper configs)
shuffles its sampler with the seed the resumed process drew, so it trains on
other batches than the interrupted run would have.

:class:`RNGStateHook` stores in the checkpoint the states of Python's
``random``, NumPy's global generator, torch (and CUDA) of every rank, and the
train sampler's seed; right before training continues (``before_train``, after
the checkpoint and the schedulers are loaded) it puts them back and gives the
sampler and mmengine's dataloader-worker seeding the checkpoint's seed. A
deterministic run resumed from iteration ``k`` then computes the same losses as
the uninterrupted run, with or without a configured seed.

Scope: the states of the training processes. Dataloader workers
(``num_workers > 0``) draw augmentations from their own generators, which
cannot be checkpointed; with workers, the sample order after a resume is
exact (the sampler's seed and position are restored) but random augmentations
are not.
"""
import functools
import random
import warnings
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmaction.registry import HOOKS

KEY = 'rng_states'
SAMPLER_SEED_KEY = 'sampler_seed'


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


def built_train_loader(runner):
    """The train dataloader the loop iterates (None before it is built)."""
    loop = getattr(runner, '_train_loop', None)
    return getattr(loop, 'dataloader', None) if not isinstance(loop, dict) else None


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Checkpoint the RNG states of every rank and the sampler's seed; restore them on resume.

    With several processes, the states of all ranks are gathered after each
    iteration and epoch (before the checkpoint hook saves, which only rank 0
    does), so rank ``r`` gets its own state back. Resuming with a different
    number of processes keeps the freshly seeded generators (with a warning);
    the sampler's seed is restored whatever the number of processes.
    """

    # after_train_iter: before CheckpointHook (VERY_LOW); before_train: after the others
    priority = 'LOW'

    def __init__(self) -> None:
        self._gathered: Optional[List[Dict[str, Any]]] = None
        self._pending: Optional[List[Dict[str, Any]]] = None
        self._pending_seed: Optional[int] = None

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
        seed = getattr(getattr(built_train_loader(runner), 'sampler', None), 'seed', None)
        if isinstance(seed, int):
            checkpoint[SAMPLER_SEED_KEY] = seed

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get(KEY)
        # checkpoints written before the hook stored it: mmengine's sampler seed is the run's
        self._pending_seed = checkpoint.get(SAMPLER_SEED_KEY,
                                            checkpoint.get('meta', {}).get('seed'))

    def before_train(self, runner) -> None:
        pending, self._pending = self._pending, None
        seed, self._pending_seed = self._pending_seed, None
        if runner.iter == 0 and runner.epoch == 0:
            return  # fresh run, or weights loaded with load_from
        if seed is not None:
            self._restore_seed(runner, seed)
        if pending is None:
            return
        rank, world_size = get_dist_info()
        if len(pending) != world_size:
            warnings.warn(f'RNGStateHook: the checkpoint holds RNG states of {len(pending)} '
                          f'process(es), this run has {world_size}; random draws after the '
                          'resume point will differ from the interrupted run.')
            return
        set_rng_state(pending[rank])

    @staticmethod
    def _restore_seed(runner, seed: int) -> None:
        """Give the train sampler the checkpoint's seed, and mmengine's worker seeding
        (``default_worker_init_fn``) the run's seed as mmengine restored it."""
        loader = built_train_loader(runner)
        sampler = getattr(loader, 'sampler', None)
        old = getattr(sampler, 'seed', None)
        if isinstance(old, int) and old != seed:
            sampler.seed = seed
            print_log(f'RNGStateHook: the train sampler shuffles with the checkpoint\'s seed '
                      f'{seed} (this process drew {old})', logger='current')
        init_fn = getattr(loader, 'worker_init_fn', None)
        if (isinstance(init_fn, functools.partial) and 'seed' in init_fn.keywords
                and init_fn.keywords['seed'] != runner.seed):
            loader.worker_init_fn = functools.partial(
                init_fn.func, *init_fn.args, **dict(init_fn.keywords, seed=runner.seed))
