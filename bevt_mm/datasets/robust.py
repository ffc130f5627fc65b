"""Robust loading: unreadable samples are logged, counted and replaced.

A dataset with :class:`RobustLoadingMixin` runs its pipeline inside a guard.
When a sample raises one of ``catch_errors`` (default: ``OSError``,
``RuntimeError`` - decord's errors, :class:`~.transforms.DecodeError` - and
``EOFError``), the mixin

* logs a warning naming the file and the error (mmengine's current logger),
* counts it: :attr:`num_failed` (shared by all dataloader workers through a
  ``multiprocessing.Value``) and :attr:`failed_paths` (this process),
* returns None, so mmengine's ``BaseDataset.__getitem__`` draws another
  random index (``_rand_another``) and tries again, at most ``max_refetch``
  times; after that it raises (everything broken must not loop forever).

Other exceptions (``KeyError``, ``TypeError`` ..., i.e. bugs and config
mistakes) propagate unchanged.
"""
import logging
import multiprocessing as mp
import os.path as osp
from typing import Any, List, Optional, Tuple, Type

from mmengine.logging import print_log

from .transforms.loading import DecodeError

DEFAULT_CATCH: Tuple[Type[BaseException], ...] = (OSError, RuntimeError, EOFError, DecodeError)


class RobustLoadingMixin:
    """Guard ``prepare_data`` of an mmengine ``BaseDataset`` subclass.

    Call :meth:`_init_robust` in ``__init__`` (before workers start).
    """

    path_keys: Tuple[str, ...] = ('filename', 'img_path')

    def _init_robust(self, catch_errors: Optional[Tuple[Type[BaseException], ...]] = None) -> None:
        self.catch_errors = tuple(catch_errors) if catch_errors else DEFAULT_CATCH
        self._num_failed = mp.Value('i', 0)
        self.failed_paths: List[str] = []

    @property
    def num_failed(self) -> int:
        """Samples that failed to load so far, over all dataloader workers."""
        return int(self._num_failed.value)

    def _sample_path(self, idx: int) -> str:
        info = self.get_data_info(idx)
        for key in self.path_keys:
            if key in info:
                return str(info[key])
        return f'<index {idx}>'

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline; log, count and return None on a decode failure."""
        try:
            return super().prepare_data(idx)
        except self.catch_errors as err:
            path = self._sample_path(idx)
            with self._num_failed.get_lock():
                self._num_failed.value += 1
                total = self._num_failed.value
            self.failed_paths.append(path)
            print_log(f'{type(self).__name__}: skipping unreadable sample {path} '
                      f'({type(err).__name__}: {err}); {self._advice(path)}; replaced by '
                      f'another sample ({total} failed so far)', logger='current',
                      level=logging.WARNING)
            return None

    def _advice(self, path: str) -> str:
        """What to do about a sample that failed to load (for the warning)."""
        listed = (f'listed in ann_file {self.ann_file}' if getattr(self, 'ann_file', '')
                  else 'found under data_prefix')
        if not osp.exists(path):
            return (f'the file does not exist ({listed}): restore it, or fix data_prefix '
                    'or the list')
        if osp.isfile(path) and osp.getsize(path) == 0:
            return f'the file is empty (0 bytes, {listed}): re-copy or re-encode it'
        return f'{listed}: re-encode or replace the file, or drop it from the list'

    def __getstate__(self) -> dict:
        # A multiprocessing.Value pickles only while a process starts (the
        # dataloader workers); copies made otherwise get a fresh counter.
        state = self.__dict__.copy()
        from multiprocessing import context
        if context.get_spawning_popen() is None:
            state['_num_failed'] = int(self._num_failed.value)
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get('_num_failed'), int):
            state['_num_failed'] = mp.Value('i', state['_num_failed'])
        self.__dict__.update(state)
