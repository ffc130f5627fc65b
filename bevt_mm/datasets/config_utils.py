"""Dataset settings derived from the rest of a config (used by ``tools/train.py``/``test.py``)."""
from typing import Any, Iterator, Tuple

from mmengine.config import Config

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def dataset_configs(cfg: Config) -> Iterator[Tuple[str, Any]]:
    """Every leaf dataset config of the dataloaders, with its config key.

    Wrappers (``ConcatDataset``'s ``datasets``, ``RepeatDataset``'s
    ``dataset`` ...) are opened.

    Yields:
        tuple[str, dict]: e.g. ``('train_dataloader.dataset.datasets.0', cfg)``.
    """
    def walk(key: str, ds: Any) -> Iterator[Tuple[str, Any]]:
        if not isinstance(ds, dict):
            return
        if isinstance(ds.get('datasets'), (list, tuple)):
            for i, sub in enumerate(ds['datasets']):
                yield from walk(f'{key}.datasets.{i}', sub)
        elif isinstance(ds.get('dataset'), dict):
            yield from walk(f'{key}.dataset', ds['dataset'])
        else:
            yield key, ds

    for loader in LOADERS:
        dataloader = cfg.get(loader, None)
        if isinstance(dataloader, dict) and dataloader.get('dataset') is not None:
            yield from walk(f'{loader}.dataset', dataloader['dataset'])


def set_num_classes_from_head(cfg: Config) -> None:
    """Give every robust dataset ``num_classes = model.cls_head.num_classes``.

    The datasets then check their labels when they are built
    (:class:`~.ann_list.LabelRangeError` naming the list, the line, the label
    and ``num_classes``) instead of the first batch holding an out-of-range
    label failing (a device-side assert on GPU). Configs without a
    ``model.cls_head.num_classes`` (pretraining) are left as they are.

    Raises:
        ValueError: a dataset sets another ``num_classes`` than the head.
    """
    from mmaction.registry import DATASETS

    from .robust import RobustLoadingMixin
    head = (cfg.get('model', None) or {}).get('cls_head', None) or {}
    num_classes = head.get('num_classes', None) if isinstance(head, dict) else None
    if num_classes is None:
        return
    for key, ds in dataset_configs(cfg):
        ds_type = ds.get('type')
        cls = DATASETS.get(ds_type) if isinstance(ds_type, str) else ds_type
        if not (isinstance(cls, type) and issubclass(cls, RobustLoadingMixin)):
            continue
        own = ds.get('num_classes', None)
        if own is None:
            ds['num_classes'] = num_classes
        elif own != num_classes:
            raise ValueError(f'{key}.num_classes={own} but model.cls_head.num_classes='
                             f'{num_classes}: set both to the number of classes of the lists '
                             f'(or drop {key}.num_classes: it follows the head)')
