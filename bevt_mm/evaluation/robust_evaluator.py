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
from typing import Any, List, Optional, Sequence, Union

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
    ``ConfusionMatrix`` ... do) and compute in ``compute_metrics`` (its own,
    or one set on the instance); for one that does not, the metric is
    computed over every sample and a warning says so. The metrics themselves
    are not modified: their ``compute_metrics`` is called with the readable
    samples' results. ``DumpResults`` dumps every sample; the unreadable ones
    carry ``unreadable_file``.

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
        metrics = self.metrics
        if unreadable:  # only on the main process, where compute_metrics runs
            keep = [not m for m in marks]
            self.metrics = [m if type(m).__name__ in KEEP_ALL else _readable_only(m, keep)
                            for m in metrics]
        try:
            results = super().evaluate(size)
        finally:
            self.metrics = metrics
        if unreadable:
            names = ', '.join(unreadable[:self.max_listed])
            more = len(unreadable) - self.max_listed
            print_log(f'{type(self).__name__}: {len(unreadable)} of {len(marks)} samples '
                      'unreadable, left out of the metrics (computed over the other '
                      f'{len(marks) - len(unreadable)}): {names}'
                      + (f' and {more} more' if more > 0 else ''),
                      logger='current', level=logging.WARNING)
        return results


class _ReadableOnly(BaseMetric):
    """A metric's evaluation over the readable samples, for one ``evaluate`` call.

    Shares the metric's ``results`` list (cleared by ``evaluate`` as usual),
    device, folder and prefix, and calls the metric's own ``compute_metrics``
    (a function set on the instance included) with the results of the samples
    marked ``keep``. The metric itself is not modified.

    Args:
        metric (BaseMetric): the metric.
        keep (list[bool]): per sample of the dataset, in ``collect_results``
            order: whether it was readable.
    """

    def __init__(self, metric: BaseMetric, keep: List[bool]) -> None:
        # BaseMetric.__init__ is not called: every attribute comes from ``metric``
        self.metric, self.keep = metric, keep
        self._dataset_meta = metric.dataset_meta
        self.collect_device = metric.collect_device
        self.collect_dir = getattr(metric, 'collect_dir', None)
        self.prefix = metric.prefix
        self.results = metric.results

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        self.metric.process(data_batch, data_samples)

    def compute_metrics(self, results: list) -> dict:
        """``metric.compute_metrics`` over the results of the readable samples."""
        if len(results) != len(self.keep):
            print_log(f'RobustEvaluator: {type(self.metric).__name__} has {len(results)} '
                      f'results for {len(self.keep)} samples, so its unreadable samples '
                      'cannot be told apart: it is computed over all of them, stand-ins '
                      'included', logger='current', level=logging.WARNING)
            return self.metric.compute_metrics(results)
        return self.metric.compute_metrics([r for r, k in zip(results, self.keep) if k])


def _readable_only(metric: BaseMetric, keep: List[bool]) -> BaseMetric:
    """``metric`` evaluated over the readable samples; ``metric`` itself if it overrides
    ``BaseMetric.evaluate`` (then over every sample, with a warning)."""
    if type(metric).evaluate is BaseMetric.evaluate:
        return _ReadableOnly(metric, keep)
    print_log(f'RobustEvaluator: {type(metric).__name__} has its own evaluate(), so its '
              'unreadable samples cannot be left out: it is computed over all of them, '
              'stand-ins included', logger='current', level=logging.WARNING)
    return metric
