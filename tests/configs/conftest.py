"""Small generated media for running every config one step."""
import os.path as osp

import pytest

from bevt_mm.testing.toy_data import make_video_set


@pytest.fixture(scope='session')
def toy_videos(tmp_path_factory):
    """Toy-spatial mp4 clips (decord-readable) with MMAction2 annotation lists."""
    root = str(tmp_path_factory.mktemp('toy_videos'))
    lists = make_video_set(root, 'spatial', num_train=4, num_val=2, seed=0, size=64,
                           num_frames=16)
    return dict(train=lists['train'], val=lists['val'], root=osp.join(root, 'spatial'))


@pytest.fixture(scope='session')
def bevt_media(tmp_path_factory, toy_videos):
    """Videos + JPEG images (+ lists) for the pretraining configs."""
    from bevt_mm.testing.toy_data import make_image_set
    root = str(tmp_path_factory.mktemp('toy_images'))
    lists = make_image_set(root, num_train=4, num_val=1, seed=0, size=80, photo_fraction=0.5)
    return dict(video_list=toy_videos['train'], video_root=toy_videos['root'],
                image_list=lists['train'], image_root=osp.join(root, 'images'))


@pytest.fixture(scope='session')
def tiny_tokenizer_ckpt(tmp_path_factory):
    """Weights file of the tiny VQVAETokenizer used in shrunk configs."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from config_shrink import tiny_tokenizer_cfg
    init_default_scope('mmaction')
    cfg = tiny_tokenizer_cfg(checkpoint=None)
    cfg.pop('checkpoint')
    tokenizer = MODELS.build(dict(cfg, random_init=True))
    path = str(tmp_path_factory.mktemp('tokenizer') / 'tiny_vqvae.pth')
    torch.save({'state_dict': tokenizer.state_dict()}, path)
    return path
