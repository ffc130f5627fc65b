"""``--cfg-options NAME=value`` for a name of the config file is refused with
exactly the keys computed from that name, and the values they would take."""
import os.path as osp

import pytest
from mmengine.config import Config

from bevt_mm.engine.launch import check_cfg_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(rel: str) -> Config:
    return Config.fromfile(osp.join(ROOT, 'configs', rel))


def _refusal(rel: str, **options) -> str:
    with pytest.raises(ValueError) as err:
        check_cfg_options(_load(rel), options)
    return str(err.value)


def test_videos_per_gpu_names_the_sampler_and_batch_size_only():
    msg = _refusal('toy/toy_joint_swin.py', videos_per_gpu=2)
    # the computed keys with the values they would take: a command that works
    assert 'train_dataloader.sampler.videos_per_gpu=2' in msg, msg
    assert 'train_dataloader.batch_size=10' in msg, msg
    assert 'auto_scale_lr.base_batch_size=10' in msg, msg
    for unrelated in ('num_heads', 'patch_size', 'window_size', 'depths', 'max_keep_ckpts'):
        assert unrelated not in msg, msg


def test_a_name_used_in_pipelines_and_lists():
    msg = _refusal('toy/toy_joint_swin.py', data_root='/data/mine')
    assert "train_dataloader.dataset.datasets.0.ann_file='/data/mine/pretrain_videos.txt'" in msg
    msg = _refusal('bevt/joint_swin_b.py', num_frames=4)
    assert 'clip_len=4' in msg and 'num_frames=4' in msg, msg


def test_a_name_whose_value_does_not_change_anything_passes():
    cfg = _load('toy/toy_joint_swin.py')
    check_cfg_options(cfg, dict(videos_per_gpu=cfg.videos_per_gpu))  # the same value
