"""Unreadable videos and images are logged, counted and replaced."""
import logging

import numpy as np
import pytest
import torch
from mmengine.dataset import ConcatDataset
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mmaction.registry import DATASETS

from experiment_names import experiment_name

SMALL = dict(scale=(64, 80), crop=64, tok=32)


def _video_cfg(media, video_pipeline, ann):
    return dict(type='RobustVideoDataset', ann_file=ann, data_prefix=dict(video=media['root']),
                pipeline=video_pipeline(clip_len=4, frame_interval=2, **SMALL))


def _image_cfg(media, image_pipeline, ann):
    return dict(type='ImageListDataset', ann_file=ann, data_prefix=dict(img=media['img_root']),
                pipeline=image_pipeline(**SMALL))


def test_corrupt_files_are_replaced_and_counted(media, video_pipeline, image_pipeline, caplog):
    videos = DATASETS.build(_video_cfg(media, video_pipeline, media['video_list_bad']))
    images = DATASETS.build(_image_cfg(media, image_pipeline, media['image_list_bad']))
    np.random.seed(0)
    with caplog.at_level(logging.WARNING):
        MMLogger.get_instance('bevt_test_robust')  # a current logger for print_log
        v = videos[3]  # corrupt.mp4
        i = images[6]  # corrupt.jpg
    assert v['inputs'].shape == (3, 4, 64, 64) and i['inputs'].shape == (3, 64, 64)
    # the replacement is random and may hit the corrupt file again
    assert videos.num_failed >= 1 and set(videos.failed_paths) == {media['corrupt_mp4']}
    assert images.num_failed >= 1 and set(images.failed_paths) == {media['corrupt_jpg']}
    assert videos.num_failed == len(videos.failed_paths)


def test_too_short_video_is_replaced(media, video_pipeline, tmp_path):
    ann = tmp_path / 'short.txt'
    ann.write_text('video_1.mp4 0\nvideo_0.mp4 0\n')  # 24 and 40 frames
    pipeline = video_pipeline(clip_len=4, frame_interval=2, **SMALL)
    pipeline[1] = dict(type='CheckVideoLength', min_frames=30)
    ds = DATASETS.build(dict(type='RobustVideoDataset', ann_file=str(ann),
                             data_prefix=dict(video=media['root']), pipeline=pipeline))
    ds[0]
    assert ds.num_failed >= 1 and set(ds.failed_paths) == {ds.get_data_info(0)['filename']}


def test_everything_broken_raises_instead_of_looping(media, image_pipeline, tmp_path):
    ann = tmp_path / 'bad.txt'
    ann.write_text('corrupt.jpg 0\n')
    ds = DATASETS.build(dict(_image_cfg(media, image_pipeline, str(ann)), max_refetch=3))
    with pytest.raises(Exception, match='Cannot find valid'):
        ds[0]
    assert ds.num_failed == 4


def test_bugs_are_not_swallowed(media):
    ds = DATASETS.build(dict(type='ImageListDataset', ann_file=media['image_list'],
                             data_prefix=dict(img=media['img_root']),
                             pipeline=[dict(type='LoadImageAsClip'),
                                       dict(type='PackBEVTInputs')]))  # no mask: KeyError
    with pytest.raises(KeyError):
        ds[0]
    assert ds.num_failed == 0


def test_failure_count_is_shared_by_workers(media, image_pipeline):
    images = DATASETS.build(_image_cfg(media, image_pipeline, media['image_list_bad']))
    loader = DataLoader(images, batch_size=1, num_workers=2, collate_fn=lambda x: x,
                        sampler=[6, 6, 6, 0])
    assert len(list(loader)) == 4
    assert images.num_failed >= 3  # three draws of corrupt.jpg (+ unlucky replacements)
    assert images.failed_paths == []  # the workers' lists stay in the workers


class _TinyModel(BaseModel):
    """Stand-in for BEVT: consumes the packed mixed batch, checks its layout."""

    def __init__(self, videos_per_batch, images_per_batch):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.layout = ['video'] * videos_per_batch + ['image'] * images_per_batch
        self.seen = 0

    def forward(self, inputs, data_samples=None, mode='loss'):
        assert [s.metainfo['modality'] for s in data_samples] == self.layout
        self.seen += len(inputs)
        mean = torch.stack([x.float().mean() for x in inputs]).mean()
        return dict(loss=(self.weight - mean / 255.).pow(2).sum())


def test_training_run_with_corrupt_files(media, video_pipeline, image_pipeline, tmp_path):
    dataset = dict(type='ConcatDataset', datasets=[
        _video_cfg(media, video_pipeline, media['video_list_bad']),
        _image_cfg(media, image_pipeline, media['image_list_bad'])])
    runner = Runner(
        experiment_name=experiment_name('robust_loading'),
        model=_TinyModel(2, 4),
        work_dir=str(tmp_path / 'work'),
        train_dataloader=dict(
            batch_size=6, num_workers=0,
            sampler=dict(type='DualDatasetSampler', videos_per_gpu=2, images_per_gpu=4),
            dataset=dataset),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_scope='mmaction',
        randomness=dict(seed=0),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook', interval=1)),
        log_level='WARNING')
    runner.train()
    concat = runner.train_dataloader.dataset
    assert isinstance(concat, ConcatDataset)
    video_ds, image_ds = concat.datasets
    # one epoch visits every index once (4 videos in 2 batches, 7 images in 2 batches of 4)
    assert runner.model.seen == 12
    assert set(video_ds.failed_paths) == {media['corrupt_mp4']}
    assert set(image_ds.failed_paths) == {media['corrupt_jpg']}
    logs = list((tmp_path / 'work').glob('*/*.log'))
    assert len(logs) == 1
    log = logs[0].read_text()
    assert media['corrupt_mp4'] in log and media['corrupt_jpg'] in log


@pytest.mark.parametrize('test_mode', [False, True])
def test_scattered_bad_files_do_not_add_up_to_a_config_mistake(media, tmp_path, test_mode):
    """A long run with a few scattered unreadable files: each failure is followed by
    readable samples, so max_consecutive_failures (3 here) is never reached, however many
    fail in total (3 of 24 files, every 8th; two epochs)."""
    ann = tmp_path / 'scattered.txt'
    good = open(media['image_list']).read().split()[0]
    ann.write_text(''.join(f'{"missing.jpg" if k % 8 == 7 else good} 0\n' for k in range(24)))
    pipeline = [dict(type='LoadImageAsClip')]
    if test_mode:
        pipeline += [dict(type='FormatShape', input_format='NCHW'),
                     dict(type='PackActionInputs')]
    ds = DATASETS.build(dict(type='ImageListDataset', ann_file=str(ann), test_mode=test_mode,
                             data_prefix=dict(img=media['img_root']), pipeline=pipeline,
                             max_consecutive_failures=3))
    np.random.seed(0)
    for _ in range(2):  # two epochs
        for k in range(len(ds)):
            assert ds[k] is not None
    assert ds.num_failed >= 6 and set(ds.failed_paths) == {f'{media["img_root"]}/missing.jpg'}
    if test_mode:  # 3 in a row (the stand-ins are the next ones): raised
        ann.write_text('missing.jpg 0\n' * 3 + f'{good} 0\n')
        ds = DATASETS.build(dict(type='ImageListDataset', ann_file=str(ann), test_mode=True,
                                 data_prefix=dict(img=media['img_root']), pipeline=pipeline,
                                 max_consecutive_failures=3))
        with pytest.raises(Exception, match='3 samples in a row failed'):
            ds[0]
