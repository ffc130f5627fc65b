"""Every dataset of every config loads robustly, and every val/test metric says what it left out.

An unreadable video (missing, truncated, a codec decord lacks), an out-of-range label or a
list saved on Windows must not stop a 60-epoch run: each dataset in configs/ (dataloaders,
hooks, wrappers) must be a RobustLoadingMixin dataset, each val/test dataloader must be
evaluated by RobustEvaluator, and fine-tuning datasets get the head's num_classes.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.dataset import BaseDataset

import bevt_mm  # noqa: F401  (registers the BEVT types)
from bevt_mm.datasets import RobustLoadingMixin
from mmaction.registry import DATASETS, EVALUATOR

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def _datasets_anywhere(node, key=''):
    """(key, dataset class) of every dict in the config whose type is a dataset."""
    if isinstance(node, dict):
        kind = node.get('type')
        cls = DATASETS.get(kind) if isinstance(kind, str) else kind
        if isinstance(cls, type) and issubclass(cls, BaseDataset):
            yield key, cls
        for k, v in node.items():
            yield from _datasets_anywhere(v, f'{key}.{k}' if key else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _datasets_anywhere(v, f'{key}.{i}')


def test_there_are_configs():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_every_dataset_is_robust(path):
    cfg = Config.fromfile(path)
    found = list(_datasets_anywhere(cfg.to_dict()))
    assert found, f'{path}: no dataset found'
    # (mmengine's wrappers, ConcatDataset ..., are no BaseDataset: their members are checked)
    stock = [f'{key} ({cls.__name__})' for key, cls in found
             if not issubclass(cls, RobustLoadingMixin)]
    assert not stock, f'{path}: datasets without robust loading: {stock}'

    from bevt_mm.datasets.config_utils import dataset_configs, set_num_classes_from_head
    from bevt_mm.evaluation import RobustEvaluator
    for key, ds in dataset_configs(cfg):
        assert issubclass(DATASETS.get(ds['type']), RobustLoadingMixin), (path, key)

    for split in ('val', 'test'):
        if not cfg.get(f'{split}_dataloader'):
            continue
        evaluator = cfg.get(f'{split}_evaluator')
        assert isinstance(evaluator, dict) and 'metrics' in evaluator, (path, split, evaluator)
        assert issubclass(EVALUATOR.get(evaluator['type']), RobustEvaluator), (path, split)

    set_num_classes_from_head(cfg)  # what tools/train.py and tools/test.py do
    head = cfg.model.get('cls_head')
    for key, ds in dataset_configs(cfg):
        if head is not None:
            assert ds['num_classes'] == head.num_classes, (path, key)
