"""Fixtures for the analysis-tool tests: a few toy videos and tiny recognizer configs."""
import os.path as osp

import pytest

from bevt_mm.datasets.toy import make_video_set


@pytest.fixture(scope='session')
def toy_temporal_videos(tmp_path_factory):
    """8 toy-temporal videos (2 per class), 8 frames of 32x32: (root, ann_file)."""
    root = str(tmp_path_factory.mktemp('toy_td'))
    lists = make_video_set(root, 'temporal', num_train=0, num_val=8, seed=0, size=32,
                           num_frames=8)
    return osp.join(root, 'temporal'), lists['val']
