"""Metrics over the readable samples, and a line saying which were not.

A robust dataset in ``test_mode`` (:mod:`bevt_mm.datasets.robust`) passes a
stand-in clip through the model for a file it cannot read and marks the data
sample with ``metainfo['unreadable_file']``. :class:`RobustEvaluator` runs its
metrics (``AccMetric`` ...) on the other samples only and logs, at the end of
each evaluation::

    RobustEvaluator: 2 of 120 samples unreadable, left out of the metrics (computed over
    the other 118): data/val/a.mp4, data/val/b.mp4

Samples are collected across ranks exactly as the metrics collect their
results (``mmengine.dist.collect_results``: rank order, padding dropped), so
the marks line up with the results in distributed evaluation too.
"""
import logging
from typing import Any, Callable, List, Optional, Sequence, Union

from mmengine.dist import collect_results
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from mmaction.registry import EVALUATOR
from ..datasets.robust import RobustLoadingMixin

#: metrics that keep every sample (a dump of the predictions keeps the mark instead)
KEEP_ALL = ('DumpResults',)


@EVALUATOR.register_module()
class RobustEvaluator(Evaluator):
    """mmengine's ``Evaluator`` that leaves unreadable samples out of the metrics.

    Config::

        val_evaluator = dict(type='RobustEvaluator', metrics=dict(type='AccMetric'))

    Each metric must append one result per data sample (``AccMetric``,
    ``ConfusionMatrix`` ... do); for one that does not, the metric is
    computed over every sample and a warning says so. ``DumpResults`` dumps
    every sample; the unreadable ones carry ``unreadable_file``.

    Args:
        metrics (dict | BaseMetric | Sequence): the metrics, as for
            ``Evaluator``.
        max_listed (int): paths named in the end-of-evaluation line.
            Defaults to 20.
    """

    def __init__(self, metrics: Union[dict, BaseMetric, Sequence], max_listed: int = 20) -> None:
        super().__init__(metrics)
        self.max_listed = max_listed
        self._unreadable: List[str] = []

    def process(self, data_samples: Sequence[Any], data_batch: Optional[Any] = None) -> None:
        """Record which samples are unreadable, then let every metric process the batch."""
        for sample in data_samples:  # '' for readable: collect_results drops None entries
            meta = sample.metainfo if isinstance(sample, BaseDataElement) else dict(sample)
            self._unreadable.append(meta.get(RobustLoadingMixin.unreadable_key) or '')
        super().process(data_samples, data_batch)

    def evaluate(self, size: int) -> dict:
        """Metrics over the readable samples of the ``size`` in the dataset.

        Args:
            size (int): samples in the dataset (padding of the sampler dropped).

        Returns:
            dict: the metrics, as ``Evaluator.evaluate``.
        """
        marks = collect_results(self._unreadable, size, 'cpu')  # None off the main process
        self._unreadable = []
        unreadable = [m for m in marks or [] if m]
        wrapped = []
        if unreadable:  # only on the main process, where compute_metrics runs
            keep = [not m for m in marks]
            for metric in self.metrics:
                if type(metric).__name__ not in KEEP_ALL:
                    metric.compute_metrics = self._on_readable(metric, keep)
                    wrapped.append(metric)
        try:
            metrics = super().evaluate(size)
        finally:
            for metric in wrapped:
                del metric.compute_metrics  # back to the class's method
        if unreadable:
            names = ', '.join(unreadable[:self.max_listed])
            more = len(unreadable) - self.max_listed
            print_log(f'{type(self).__name__}: {len(unreadable)} of {len(marks)} samples '
                      'unreadable, left out of the metrics (computed over the other '
                      f'{len(marks) - len(unreadable)}): {names}'
                      + (f' and {more} more' if more > 0 else ''),
                      logger='current', level=logging.WARNING)
        return metrics

    @staticmethod
    def _on_readable(metric: BaseMetric, keep: List[bool]) -> Callable[[list], dict]:
        compute = metric.compute_metrics

        def compute_on_readable(results: list) -> dict:
            if len(results) != len(keep):
                print_log(f'RobustEvaluator: {type(metric).__name__} has {len(results)} results '
                          f'for {len(keep)} samples, so its unreadable samples cannot be told '
                          'apart: it is computed over all of them, stand-ins included',
                          logger='current', level=logging.WARNING)
                return compute(results)
            return compute([r for r, k in zip(results, keep) if k])

        return compute_on_readable
