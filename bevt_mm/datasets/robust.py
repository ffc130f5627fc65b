"""Robust loading: unreadable samples are logged, counted and replaced.

A dataset with :class:`RobustLoadingMixin` runs its pipeline transform by
transform. A sample is a *file fault* when

* any exception (``Exception`` subclass) is raised by a **loader transform**,
  one that opens or decodes the file (:data:`LOADER_TRANSFORMS`: MMAction2's
  ``DecordInit``/``DecordDecode``/``PyAV*``/``OpenCV*``/``RawFrameDecode``,
  our ``LoadImageAsClip``/``CheckVideoLength``, ...). decord raises its own
  ``DECORDError`` (an ``Exception``, not a ``RuntimeError``) for truncated
  downloads and audio-only files, ``AssertionError`` for an invalid frame
  count, ``DECORDLimitReachedError`` ..., so the class cannot tell a bad file
  apart; the transform that raised it can; or
* an exception of one of ``catch_errors`` (default: ``OSError``,
  ``RuntimeError``, ``EOFError``, :class:`~.transforms.DecodeError`) is raised
  anywhere in the pipeline (custom loaders).

For a file fault the mixin logs a warning naming the file, the list and the
error (once per file and process; later failures of the same file are only
counted), counts it (:attr:`num_failed`, shared by all dataloader workers
through a ``multiprocessing.Value``; :attr:`failed_paths` and
:attr:`failure_counts` in this process) and ``prepare_data`` returns None.

* **Training**: mmengine's ``BaseDataset.__getitem__`` draws another random
  index and tries again, at most ``max_refetch`` times.
* **Validation and test** (``test_mode=True``): replacing the sample would
  change the metric silently, and mmengine's ``__getitem__`` raises on None.
  Instead the next readable sample (``idx + 1``, ``idx + 2`` ...) stands in
  for it, so the batch keeps its shape and every rank its sample count, and
  its data sample is marked with the unreadable file
  (``metainfo['unreadable_file']``). ``RobustEvaluator``
  (:mod:`bevt_mm.evaluation`) leaves marked samples out of every metric and
  logs at the end of the evaluation "N of M samples unreadable, metrics over
  the other M-N" with their paths. (With a stock evaluator the stand-in's
  prediction would count: the configs use ``RobustEvaluator``.)

**Config mistake or bad file?** A mistake that breaks every sample (wrong
``data_prefix``, missing codec, wrong pipeline) also fails in the loader. So
when ``max_consecutive_failures`` (default 10) samples fail in a row in one
process with no sample loading in between, the last sample's *original*
exception is re-raised at once, with a note saying so. With 1 % bad files,
10 failures in a row have probability 1e-20 per draw; at 50 % bad files
(a broken data set) about 1e-3.

Exceptions raised by other transforms (``RandomCrop`` asserting a crop larger
than the frame, ``KeyError`` from a missing key ...: config mistakes and
bugs) propagate unchanged and are not counted.

**A decoder call that hangs** (a seek that never returns inside decord's C
code) cannot be interrupted from Python, in the main process or in a worker.
The bound that applies is the data loader's: with ``num_workers > 0`` set
``train_dataloader.timeout=<seconds>`` and PyTorch raises ``RuntimeError:
DataLoader timed out after N seconds`` in the main process, so the run stops
(resume it with ``--resume`` after removing the file) instead of hanging. The
paper-scale configs set ``timeout=600``. Without a timeout (PyTorch's default
0, and always with ``num_workers=0``) such a file hangs training.
"""
import logging
import multiprocessing as mp
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple, Type

from mmengine.logging import print_log

from .transforms.loading import DecodeError

DEFAULT_CATCH: Tuple[Type[BaseException], ...] = (OSError, RuntimeError, EOFError, DecodeError)

#: Transforms that open or decode the sample's file (class names): any
#: exception they raise is a fault of that file.
LOADER_TRANSFORMS: Tuple[str, ...] = (
    'DecordInit', 'DecordDecode', 'PyAVInit', 'PyAVDecode', 'PyAVDecodeMotionVector',
    'OpenCVInit', 'OpenCVDecode', 'RawFrameDecode', 'ImageDecode', 'AudioDecodeInit',
    'AudioDecode', 'LoadImageFromFile', 'LoadImageAsClip', 'CheckVideoLength')


class RobustLoadingMixin:
    """Guard ``prepare_data`` of an mmengine ``BaseDataset`` subclass.

    Call :meth:`_init_robust` in ``__init__`` (before workers start).
    """

    path_keys: Tuple[str, ...] = ('filename', 'img_path')
    #: metainfo key of a test-mode data sample whose file was unreadable (value:
    #: the file); its inputs are another sample's (see the module docstring)
    unreadable_key: str = 'unreadable_file'

    def _init_robust(self, catch_errors: Optional[Tuple[Type[BaseException], ...]] = None,
                     max_consecutive_failures: int = 10) -> None:
        self.catch_errors = tuple(catch_errors) if catch_errors else DEFAULT_CATCH
        if max_consecutive_failures < 1:
            raise ValueError(f'max_consecutive_failures={max_consecutive_failures} must be >= 1')
        self.max_consecutive_failures = int(max_consecutive_failures)
        self._num_failed = mp.Value('i', 0)
        self._consecutive_failures = 0
        self.failed_paths: List[str] = []
        self.failure_counts: Dict[str, int] = {}

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

    def _is_file_fault(self, transform: Any, err: Exception) -> bool:
        return (type(transform).__name__ in LOADER_TRANSFORMS
                or isinstance(err, self.catch_errors))

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline; log, count and return None on a file fault."""
        data = self.get_data_info(idx)
        for transform in getattr(self.pipeline, 'transforms', [self.pipeline]):
            try:
                data = transform(data)
            except Exception as err:
                if not self._is_file_fault(transform, err):
                    raise
                self._record_failure(idx, err)
                return None
            if data is None:  # mmengine's Compose: a transform may reject a sample
                return None
        self._consecutive_failures = 0
        return data

    def __getitem__(self, idx: int) -> Any:
        """Training: mmengine's (replace the sample); test mode: a marked stand-in."""
        if not getattr(self, 'test_mode', False):
            return super().__getitem__(idx)
        if not self._fully_initialized:
            self.full_init()
        data = self.prepare_data(idx)
        if data is not None:
            return data
        bad = self._sample_path(idx)
        for step in range(1, min(self.max_refetch, len(self) - 1) + 1):
            data = self.prepare_data((idx + step) % len(self))
            if data is not None:
                return self._mark_unreadable(data, bad)
        raise RuntimeError(f'{type(self).__name__}: {bad} is unreadable and so are the '
                           f'{min(self.max_refetch, len(self) - 1)} samples after it (no '
                           'stand-in to keep the batch shape); see the warnings above')

    def _mark_unreadable(self, data: Any, path: str) -> Any:
        from mmengine.structures import BaseDataElement
        sample = data.get('data_samples') if isinstance(data, dict) else None
        if not isinstance(sample, BaseDataElement):
            raise TypeError(f'{type(self).__name__}(test_mode=True): {path} is unreadable and '
                            'the pipeline output has no data sample to mark it in; end the '
                            'pipeline with a Pack transform (PackActionInputs, PackBEVTInputs)')
        sample.set_metainfo({self.unreadable_key: path})
        return data

    def _record_failure(self, idx: int, err: Exception) -> None:
        path = self._sample_path(idx)
        with self._num_failed.get_lock():
            self._num_failed.value += 1
            total = self._num_failed.value
        self.failed_paths.append(path)
        first = path not in self.failure_counts
        self.failure_counts[path] = self.failure_counts.get(path, 0) + 1
        self._consecutive_failures += 1
        if self._consecutive_failures >= self.max_consecutive_failures:
            err.add_note(f'{type(self).__name__}: {self._consecutive_failures} samples in a row '
                         f'failed to load (last: {path}): this looks like a config mistake '
                         '(data_prefix, ann_file, pipeline, a missing codec) rather than bad '
                         'files, so the original error is raised (max_consecutive_failures='
                         f'{self.max_consecutive_failures})')
            raise err
        if first:
            what = ('left out of the metrics by RobustEvaluator (the next readable sample '
                    'stands in for it in the batch)' if getattr(self, 'test_mode', False)
                    else 'replaced by another sample')
            print_log(f'{type(self).__name__}: skipping unreadable sample {path} '
                      f'({type(err).__name__}: {str(err).strip()}); {self._advice(path)}; '
                      f'{what} ({total} failed so far, '
                      f'{len(self.failure_counts)} distinct files in this process; '
                      'later failures of this file are counted without a warning)',
                      logger='current', level=logging.WARNING)

    def labels_outside(self, num_classes: int) -> List[Tuple[str, int]]:
        """``(path, label)`` of every sample with a label outside ``0..num_classes - 1``.

        Args:
            num_classes (int): classes of the model's head.

        Returns:
            list[tuple[str, int]]: in list order; unlabelled samples (-1) are
            not checked.
        """
        from mmengine.dataset import BaseDataset
        bad = []
        for idx in range(len(self)):
            info = BaseDataset.get_data_info(self, idx)  # labels as listed (no one-hot)
            labels = info.get('label', info.get('gt_label', -1))
            for label in (labels if isinstance(labels, (list, tuple)) else [labels]):
                if int(label) != -1 and not 0 <= int(label) < num_classes:
                    bad.append((self._sample_path(idx), int(label)))
        return bad

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
