"""Fixtures for the analysis-tool tests: a few toy videos."""
import os.path as osp

import pytest

from bevt_mm.testing.toy_data import make_video_set


def _temporal_val_set(tmp_path_factory, name: str, num: int, size: int, frames: int):
    """``num`` toy-temporal val videos (classes in turn): (folder, ann_file)."""
    root = str(tmp_path_factory.mktemp(name))
    lists = make_video_set(root, 'temporal', num_train=0, num_val=num, seed=0, size=size,
                           num_frames=frames)
    return osp.join(root, 'temporal'), lists['val']


@pytest.fixture(scope='session')
def toy_temporal_videos(tmp_path_factory):
    """8 toy-temporal videos (2 per class), 8 frames of 32x32: (root, ann_file)."""
    return _temporal_val_set(tmp_path_factory, 'toy_td', 8, 32, 8)


@pytest.fixture(scope='session')
def temporal_64(tmp_path_factory):
    """4 toy-temporal videos (one per class), 16 frames of 64x64 (the toy pretraining's size)."""
    return _temporal_val_set(tmp_path_factory, 'frame_order', 4, 64, 16)
