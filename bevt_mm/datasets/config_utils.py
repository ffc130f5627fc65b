"""Dataset settings derived from the rest of a config (used by ``tools/train.py``/``test.py``)."""
from typing import Any, Iterator, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

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


def head_num_classes(cfg: Config) -> Optional[int]:
    """``model.cls_head.num_classes``, or None (no classification head)."""
    head = (cfg.get('model', None) or {}).get('cls_head', None) or {}
    return head.get('num_classes', None) if isinstance(head, dict) else None


def set_num_classes_from_head(cfg: Config) -> None:
    """Make every robust dataset's ``num_classes`` that of ``model.cls_head``.

    The configs give their datasets ``num_classes`` from one top-level
    ``num_classes`` variable, so a Runner built from the config checks the
    labels when the datasets are built (:class:`~.ann_list.LabelRangeError`
    naming the list, the line, the label and ``num_classes``). A variable is
    resolved when the config is read: ``--cfg-options
    model.cls_head.num_classes=N`` changes the head alone. ``tools/train.py``
    and ``tools/test.py`` call this after ``--cfg-options``: a dataset without
    ``num_classes`` or with the config's top-level value follows the head;
    configs without ``model.cls_head.num_classes`` (pretraining) are left
    as they are.

    Raises:
        ValueError: a dataset sets ``num_classes`` to another value than the
            head and the config's top-level ``num_classes``.
    """
    from mmaction.registry import DATASETS

    from .robust import RobustLoadingMixin
    num_classes = head_num_classes(cfg)
    if num_classes is None:
        return
    default = cfg.get('num_classes', None)
    for key, ds in dataset_configs(cfg):
        ds_type = ds.get('type')
        cls = DATASETS.get(ds_type) if isinstance(ds_type, str) else ds_type
        if not (isinstance(cls, type) and issubclass(cls, RobustLoadingMixin)):
            continue
        own = ds.get('num_classes', None)
        if own is None or own == num_classes:
            ds['num_classes'] = num_classes
        elif own == default:  # the head was overridden alone
            print_log(f'{key}.num_classes={own} (the config\'s num_classes) follows '
                      f'model.cls_head.num_classes={num_classes}', logger='current')
            ds['num_classes'] = num_classes
        else:
            raise ValueError(f'{key}.num_classes={own} but model.cls_head.num_classes='
                             f'{num_classes}: set both to the number of classes of the lists '
                             f'(or drop {key}.num_classes: it follows the head)')
