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


@pytest.fixture(scope='session')
def random_toy_tokenizer(tmp_path_factory):
    """Weights of the toy configs' VQ-VAE tokenizer at a seeded random init (a .pth path)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import bevt_mm  # noqa: F401
    from mmaction.registry import MODELS
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    init_default_scope('mmaction')
    tok = Config.fromfile(osp.join(repo, 'configs', 'bevt', 'toy_joint_swin.py'))
    tok = dict(tok.model.target_generator)
    tok.pop('checkpoint')
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('tokenizer') / 'tok.pth')
    torch.save({'state_dict': MODELS.build(dict(tok, random_init=True)).state_dict()}, path)
    return path
