"""Small generated media for running every config one step."""
import os.path as osp

import pytest

from bevt_mm.datasets.toy import make_video_set


@pytest.fixture(scope='session')
def toy_videos(tmp_path_factory):
    """Toy-spatial mp4 clips (decord-readable) with MMAction2 annotation lists."""
    root = str(tmp_path_factory.mktemp('toy_videos'))
    lists = make_video_set(root, 'spatial', num_train=4, num_val=2, seed=0, size=64,
                           num_frames=16)
    return dict(train=lists['train'], val=lists['val'], root=osp.join(root, 'spatial'))
