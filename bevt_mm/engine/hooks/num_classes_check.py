"""Check, before a run, every dataset's labels against the model head's ``num_classes``."""
from typing import Iterator, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmaction.registry import HOOKS


def _leaf_datasets(dataset, key: str) -> Iterator[Tuple[str, object]]:
    """Datasets inside mmengine's wrappers (``ConcatDataset``, ``RepeatDataset`` ...)."""
    if isinstance(getattr(dataset, 'datasets', None), (list, tuple)):
        for i, sub in enumerate(dataset.datasets):
            yield from _leaf_datasets(sub, f'{key}.datasets.{i}')
    elif getattr(dataset, 'dataset', None) is not None:
        yield from _leaf_datasets(dataset.dataset, f'{key}.dataset')
    else:
        yield key, dataset


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Make every robust dataset's label check the head's, under any runner.

    The configs give one ``num_classes`` to the head and to the datasets,
    which refuse out-of-range labels when they are built (naming the line).
    A head changed alone (``mim train ... --cfg-options
    model.cls_head.num_classes=N``, or in Python) leaves the datasets'
    check at the old count, and labels ``N`` and above would crash the loss
    (a device-side assert on GPU). Before training, validation and testing,
    a dataset whose ``num_classes`` is not the head's has its labels checked
    against the head: it then follows the head (logged), or the run stops
    with :class:`~bevt_mm.datasets.ann_list.LabelRangeError` naming the
    list, a sample, its label and both settings.
    """

    priority = 'VERY_HIGH'

    def _check(self, runner, loader: str) -> None:
        from bevt_mm.datasets.ann_list import LabelRangeError
        from bevt_mm.datasets.robust import RobustLoadingMixin
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        expected = getattr(getattr(model, 'cls_head', None), 'num_classes', None)
        if expected is None:
            return
        for key, dataset in _leaf_datasets(getattr(runner, loader).dataset, f'{loader}.dataset'):
            own = getattr(dataset, 'num_classes', None)
            if own == expected or not isinstance(dataset, RobustLoadingMixin):
                continue
            bad = dataset.labels_outside(expected)
            if bad:
                path, label = bad[0]
                raise LabelRangeError(
                    f'{getattr(dataset, "ann_file", key)}: label {label} of {path} is outside '
                    f'0..{expected - 1} (model.cls_head.num_classes={expected}; {len(bad)} '
                    f'labels are outside; {key}.num_classes={own}). Set num_classes to the '
                    'number of classes of the lists for the head and the datasets (the '
                    "config's num_classes feeds both), or fix the list.")
            print_log(f'{key}.num_classes={own} follows model.cls_head.num_classes={expected} '
                      '(its labels fit)', logger='current')
            dataset.num_classes = expected

    def before_train(self, runner) -> None:
        """Check ``train_dataloader``'s dataset(s) against ``runner.model``'s head."""
        self._check(runner, 'train_dataloader')

    def before_val(self, runner) -> None:
        """Check ``val_dataloader``'s dataset(s) against ``runner.model``'s head."""
        self._check(runner, 'val_dataloader')

    def before_test(self, runner) -> None:
        """Check ``test_dataloader``'s dataset(s) against ``runner.model``'s head."""
        self._check(runner, 'test_dataloader')
