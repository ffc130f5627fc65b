"""RobustEvaluator leaves unreadable samples out of the metrics and leaves the metrics as they were."""
import numpy as np
import pytest
import torch
from mmaction.evaluation import AccMetric
from mmaction.structures import ActionDataSample

from bevt_mm.datasets.robust import RobustLoadingMixin
from bevt_mm.evaluation.robust_evaluator import RobustEvaluator


def _samples(labels, predicted, unreadable):
    """Data samples as a robust test-mode dataset and a recognizer leave them."""
    out = []
    for i, (label, pred) in enumerate(zip(labels, predicted)):
        sample = ActionDataSample().set_gt_label(label).set_pred_score(torch.eye(4)[pred])
        if i in unreadable:
            sample.set_metainfo({RobustLoadingMixin.unreadable_key: f'data/val/{i}.mp4'})
        out.append(sample.to_dict())
    return out


LABELS = [0, 1, 2, 3, 0, 1]
PREDICTED = [0, 1, 0, 0, 0, 1]  # the stand-ins of samples 2 and 3 are predicted wrong
UNREADABLE = {2, 3}


def test_metrics_are_over_the_readable_samples():
    metric = AccMetric()
    evaluator = RobustEvaluator(metric)
    evaluator.process(_samples(LABELS, PREDICTED, UNREADABLE))
    assert evaluator.evaluate(len(LABELS))['acc/top1'] == pytest.approx(1.0)
    assert metric.results == []


def test_compute_metrics_set_on_the_instance_is_used_and_kept():
    """A metric instance with its own ``compute_metrics`` (as mmengine's tests set it) gets the
    readable samples' results, and keeps its function after evaluations with and without
    unreadable samples."""
    metric = AccMetric()
    seen = []

    def compute_metrics(results):
        seen.append(len(results))
        return dict(n=len(results), top1=float(np.mean([r['pred'].argmax() == r['label']
                                                         for r in results])))

    metric.compute_metrics = compute_metrics
    evaluator = RobustEvaluator(metric)
    evaluator.process(_samples(LABELS, PREDICTED, UNREADABLE))
    assert evaluator.evaluate(len(LABELS)) == {'acc/n': 4, 'acc/top1': 1.0}
    assert vars(metric).get('compute_metrics') is compute_metrics
    evaluator.process(_samples(LABELS, PREDICTED, set()))
    assert evaluator.evaluate(len(LABELS)) == {'acc/n': 6, 'acc/top1': pytest.approx(4 / 6)}
    assert seen == [4, 6]


def test_metrics_are_not_patched_during_evaluation():
    """Nothing is set on the metric instance while it computes (another thread or a metric
    that inspects itself sees the instance as the user built it)."""
    metric = AccMetric()
    attributes = []
    compute = metric.compute_metrics

    class Spy(AccMetric):
        def compute_metrics(self, results):
            attributes.append(sorted(vars(self)))
            return compute(results)

    spy = Spy()
    before = sorted(vars(spy))
    evaluator = RobustEvaluator(spy)
    evaluator.process(_samples(LABELS, PREDICTED, UNREADABLE))
    assert evaluator.evaluate(len(LABELS))['acc/top1'] == pytest.approx(1.0)
    assert attributes == [before]
