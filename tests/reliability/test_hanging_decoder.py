"""A loader call that never returns on one file: the recipe configs' dataloader
timeout stops the run instead of hanging it forever (docs/reliability.md).

A hang inside decord's C code cannot be produced on demand, so a transform that
sleeps on one named file stands in for it; what is tested is the bound that the
configs set and that PyTorch applies to a worker that does not answer.
"""
import glob
import os.path as osp
import shutil
import time
from argparse import Namespace

import pytest
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from mmaction.registry import DATASETS, TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Paper-scale configs (toy configs take seconds per batch and are often run with
# num_workers=0, where PyTorch allows no timeout).
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', 'bevt', '*.py'))
                 if not osp.basename(p).startswith('toy_'))


@TRANSFORMS.register_module(force=True)
class _SleepOnHangFile:
    """Sleeps for an hour on any file whose name contains 'hang' (a stuck decoder)."""

    def __call__(self, results):
        if 'hang' in osp.basename(results['filename']):
            time.sleep(3600)
        return results


@pytest.mark.slow
def test_hanging_file_stops_the_run_within_the_timeout(tmp_path, rel_media):
    good = open(rel_media['video_list']).read().split()[0]
    for name in ('good.mp4', 'hang.mp4'):
        shutil.copy(osp.join(rel_media['video_root'], good), tmp_path / name)
    ann = tmp_path / 'videos.txt'
    ann.write_text('good.mp4\nhang.mp4\n')
    dataset = DATASETS.build(dict(
        type='RobustVideoDataset', ann_file=str(ann), data_prefix=dict(video=str(tmp_path)),
        pipeline=[dict(type='_SleepOnHangFile'), dict(type='DecordInit')]))
    loader = DataLoader(dataset, batch_size=1, num_workers=1, timeout=3,
                        collate_fn=pseudo_collate)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match='timed out after 3 seconds'):
        for _ in loader:
            pass
    assert time.monotonic() - start < 60


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_configs_with_workers_bound_a_hanging_batch(path):
    """Every paper-scale config loads in worker processes and bounds each batch."""
    cfg = Config.fromfile(path)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader:
            assert loader.num_workers > 0, (path, key)
            assert 0 < loader.get('timeout', 0) <= 3600, (path, key, loader.get('timeout'))


def test_num_workers_zero_drops_the_timeout():
    from bevt_mm.engine.launch import merge_train_args
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'bevt', 'joint_swin_b.py'))
    args = Namespace(config='joint_swin_b.py', work_dir=None, amp=False, resume=None,
                     auto_scale_lr=False, seed=None, diff_rank_seed=False, deterministic=False,
                     no_validate=False, launcher='none',
                     cfg_options={'train_dataloader.num_workers': 0,
                                  'train_dataloader.persistent_workers': False})
    with pytest.warns(UserWarning, match='timeout=600 needs num_workers > 0'):
        cfg = merge_train_args(cfg, args)
    assert cfg.train_dataloader.timeout == 0
