"""Bad input: each fault gives a clear message (file or config key, and what to do);
training goes on where it can (unreadable samples are replaced)."""
import logging
import os.path as osp
import sys
from argparse import Namespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from PIL import Image

from mmaction.registry import DATASETS, MODELS, TRANSFORMS

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'models'))

CLIP = 8
VIDEO_PIPELINE = [dict(type='DecordInit'), dict(type='CheckVideoLength', min_frames=CLIP),
                  dict(type='SampleFrames', clip_len=CLIP, frame_interval=1, num_clips=1),
                  dict(type='DecordDecode')]
IMAGE_PIPELINE = [dict(type='LoadImageAsClip')]


class _Messages(logging.Handler):

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def warnings_log():
    logger = MMLogger.get_instance('bevt_reliability_bad_input')
    handler = _Messages()
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def _videos(tmp_path, rel_media, lines, pipeline=VIDEO_PIPELINE):
    ann = tmp_path / 'videos.txt'
    ann.write_text(''.join(line + '\n' for line in lines))
    return DATASETS.build(dict(type='RobustVideoDataset', ann_file=str(ann),
                               data_prefix=dict(video=rel_media['video_root']),
                               pipeline=pipeline)), str(ann)


def _good_video(rel_media):
    return open(rel_media['video_list']).read().split()[0]


def test_zero_length_missing_and_corrupt_video(tmp_path, rel_media, warnings_log):
    root = rel_media['video_root']
    open(osp.join(root, 'zero.mp4'), 'wb').close()
    with open(osp.join(root, 'garbage.mp4'), 'wb') as f:
        f.write(np.random.default_rng(0).bytes(2048))
    ds, ann = _videos(tmp_path, rel_media,
                      ['zero.mp4', 'missing.mp4', 'garbage.mp4', _good_video(rel_media)])
    np.random.seed(0)
    for idx in range(3):
        sample = ds[idx]  # replaced by a readable video: training goes on
        assert len(sample['imgs']) == CLIP
    assert {osp.join(root, n) for n in ('zero.mp4', 'missing.mp4', 'garbage.mp4')} <= set(
        ds.failed_paths)
    text = '\n'.join(warnings_log)
    assert f'{root}/zero.mp4' in text and 'empty (0 bytes' in text
    assert f'{root}/missing.mp4' in text and 'does not exist' in text
    assert f'{root}/garbage.mp4' in text and 're-encode or replace' in text
    assert ann in text  # names the list the entries came from


@pytest.mark.parametrize('fault', ['truncated', 'audio_only', 'raw_h264'])
def test_real_broken_mp4_is_replaced(tmp_path, rel_media, warnings_log, fault):
    """An interrupted faststart download, an audio-only mp4 and a raw H.264 stream named
    .mp4: decord raises its own DECORDError (not a RuntimeError) in DecordInit; the sample
    is replaced and counted."""
    import real_faults
    name = f'{fault}.mp4'
    path = osp.join(rel_media['video_root'], name)
    writer = dict(truncated=real_faults.write_truncated_mp4,
                  audio_only=real_faults.write_audio_only_mp4,
                  raw_h264=real_faults.write_raw_h264)[fault]
    writer(path)
    ds, ann = _videos(tmp_path, rel_media, [name, _good_video(rel_media)])
    np.random.seed(0)
    for _ in range(3):
        assert len(ds[0]['imgs']) == CLIP  # replaced by the good video: training goes on
    assert ds.failure_counts[path] >= 3 and ds.num_failed == len(ds.failed_paths)
    assert sum(path in line for line in warnings_log) == 1  # named once, then counted
    text = '\n'.join(warnings_log)
    assert path in text and 'DECORDError' in text and ann in text and 're-encode' in text


def test_config_mistake_breaking_every_sample_stops_with_its_own_error(tmp_path, rel_media):
    """A wrong data_prefix makes every file fail in the loader: the run stops after
    max_consecutive_failures (10) samples with decord's error, not after max_refetch."""
    ann = tmp_path / 'videos.txt'
    ann.write_text(open(rel_media['video_list']).read())
    ds = DATASETS.build(dict(type='RobustVideoDataset', ann_file=str(ann),
                             data_prefix=dict(video=str(tmp_path / 'wrong_root')),
                             pipeline=VIDEO_PIPELINE))
    with pytest.raises(FileNotFoundError, match='wrong_root') as err:
        ds[0]
    assert ds.num_failed == 10
    assert '10 samples in a row failed' in ''.join(getattr(err.value, '__notes__', []))


def test_error_outside_the_loader_is_not_taken_for_a_bad_file(tmp_path, rel_media):
    """A crop larger than the frames (a config mistake) raises at once, uncounted."""
    pipeline = VIDEO_PIPELINE + [dict(type='RandomCrop', size=1024)]
    ds, _ = _videos(tmp_path, rel_media, [_good_video(rel_media)], pipeline=pipeline)
    with pytest.raises(AssertionError):
        ds[0]
    assert ds.num_failed == 0


def test_video_shorter_than_the_clip(tmp_path, rel_media, warnings_log):
    from bevt_mm.testing.toy_data import write_mp4
    write_mp4(osp.join(rel_media['video_root'], 'short.mp4'),
              np.zeros((CLIP // 2, 32, 32, 3), np.uint8))
    ds, _ = _videos(tmp_path, rel_media, ['short.mp4', _good_video(rel_media)])
    np.random.seed(0)
    assert len(ds[0]['imgs']) == CLIP
    assert osp.join(rel_media['video_root'], 'short.mp4') in ds.failed_paths
    assert any('short.mp4 has 4 frames, fewer than min_frames=8' in m for m in warnings_log)


@pytest.mark.parametrize('mode', ['L', 'CMYK', 'LA', 'P', '1'])
def test_grayscale_cmyk_palette_images_become_rgb(tmp_path, mode):
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[..., 0] = np.arange(16) * 15
    rgb[..., 1] = 200
    rgb[..., 2] = np.arange(12)[:, None] * 20
    img = Image.fromarray(rgb).convert(mode)
    path = str(tmp_path / ('img.png' if mode in ('LA', 'P', '1') else 'img.jpg'))
    img.save(path)
    out = TRANSFORMS.build(dict(type='LoadImageAsClip'))(dict(img_path=path))['imgs'][0]
    assert out.shape == (12, 16, 3) and out.dtype == np.uint8
    if mode in ('L', '1'):
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    if mode == '1':
        assert set(np.unique(out)) <= {0, 255}
    if mode == 'CMYK':  # colours survive (JPEG: approximately)
        assert np.abs(out.astype(int) - rgb).mean() < 8


@pytest.mark.parametrize('mode,ext', [('I;16', 'png'), ('I;16', 'tif'), ('I;16B', 'tif'),
                                      ('I', 'tif'), ('F', 'tif')])
def test_16bit_and_float_images_are_rescaled_not_clamped(tmp_path, mode, ext):
    """A real 0..65535 ramp (16-bit PNG/TIFF; float TIFF 0..1) keeps its gradient:
    8-bit value = round(value / 257) (float: round(value * 255))."""
    from real_faults import ramp16, write_16bit_ramp
    path = str(tmp_path / f'ramp.{ext}')
    write_16bit_ramp(path, mode)
    out = TRANSFORMS.build(dict(type='LoadImageAsClip'))(dict(img_path=path))['imgs'][0]
    assert out.shape == (8, 64, 3) and out.dtype == np.uint8
    expected = np.round(ramp16()[0] / 257)
    assert np.abs(out[0, :, 0].astype(int) - expected).max() <= 1
    assert (out[..., 0] == out[..., 2]).all()
    assert (out == 255).mean() < 0.05  # clamping made 98 % of the ramp white


def test_16bit_rgb_png_keeps_colours(tmp_path):
    """Pillow reads 16-bit RGB(A) PNGs as 8-bit RGB(A) (high byte): colours kept."""
    import cv2
    from real_faults import ramp16
    ramp = ramp16()
    bgr = np.stack([ramp, 65535 - ramp, np.full_like(ramp, 30000)], -1)
    path = str(tmp_path / 'rgb16.png')
    cv2.imwrite(path, bgr)
    out = TRANSFORMS.build(dict(type='LoadImageAsClip'))(dict(img_path=path))['imgs'][0]
    assert np.abs(out.astype(int) - np.round(bgr[..., ::-1] / 257)).max() <= 1


def test_missing_image_in_the_list(tmp_path, rel_media, warnings_log):
    ann = tmp_path / 'images.txt'
    good = open(rel_media['image_list']).read().split()[0]
    ann.write_text(f'nowhere/lost.jpg 0\n{good} 1\n')
    ds = DATASETS.build(dict(type='ImageListDataset', ann_file=str(ann),
                             data_prefix=dict(img=rel_media['image_root']),
                             pipeline=IMAGE_PIPELINE))
    np.random.seed(0)
    assert ds[0]['imgs'][0].ndim == 3
    text = '\n'.join(warnings_log)
    assert 'nowhere/lost.jpg' in text and 'does not exist' in text and str(ann) in text


@pytest.mark.parametrize('kind', ['video', 'image'])
@pytest.mark.parametrize('lines,problem', [
    (['a.mp4 0', 'b.mp4 cat'], "label 'cat' is not an integer"),
    (['a.mp4 0', 'b.mp4'], 'no label, unlike line 1'),
    (['a.mp4', 'b.mp4 3'], 'a label, unlike line 1'),
    (['a.mp4 0', 'b.mp4 1 2'], '3 fields'),
])
def test_wrong_annotation_format(tmp_path, kind, lines, problem):
    from bevt_mm.datasets.ann_list import AnnotationFormatError
    ann = tmp_path / 'list.txt'
    ann.write_text('\n'.join(lines) + '\n')
    cfg = (dict(type='RobustVideoDataset', data_prefix=dict(video=str(tmp_path)))
           if kind == 'video' else
           dict(type='ImageListDataset', data_prefix=dict(img=str(tmp_path))))
    with pytest.raises(AnnotationFormatError) as err:
        DATASETS.build(dict(cfg, ann_file=str(ann), pipeline=[]))
    msg = str(err.value)
    assert f'{ann}, line 2' in msg and problem in msg and 'Expected one sample per line' in msg


def test_well_formed_lists_still_load(tmp_path):
    ann = tmp_path / 'list.txt'
    ann.write_text('a.mp4\n\nsub/b.mp4\n')
    ds = DATASETS.build(dict(type='RobustVideoDataset', ann_file=str(ann),
                             data_prefix=dict(video='/r'), pipeline=[]))
    rows = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(d['filename'], d['label']) for d in rows] == [('/r/a.mp4', -1), ('/r/sub/b.mp4', -1)]
    ann.write_text('x y.jpg 3\nz.jpg 4\n')
    ds = DATASETS.build(dict(type='ImageListDataset', ann_file=str(ann),
                             data_prefix=dict(img='/i'), pipeline=[]))
    rows = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(d['img_path'], d['gt_label']) for d in rows] == [('/i/x y.jpg', 3), ('/i/z.jpg', 4)]


def test_tokenizer_weights_of_another_vocabulary(tmp_path, rel_tokenizer):
    from bevt_mm.models.tokenizers.base import TokenizerCheckpointError
    from toy_run import tiny_tokenizer_cfg
    cfg = tiny_tokenizer_cfg(rel_tokenizer)  # the file has 32 codes
    with pytest.raises(TokenizerCheckpointError) as err:
        MODELS.build(dict(cfg, vocab_size=64))
    msg = str(err.value)
    assert rel_tokenizer in msg and 'vocab_size' in msg
    assert 'quantize.embedding.weight: file (32, 8) vs model (64, 8)' in msg
    # and a head that does not fit the tokenizer's codebook follows the tokenizer
    from bevt_builders import tiny_bevt_cfg
    model_cfg = tiny_bevt_cfg()
    model_cfg['head']['num_classes'] = 64
    assert MODELS.build(model_cfg).head.num_classes == 32


@pytest.mark.parametrize('modality,grid', [('video', 8), ('video', 2), ('image', 8),
                                           ('image', 3)])
def test_mask_grid_that_does_not_match_the_token_grid(modality, grid):
    from bevt_builders import make_batch, tiny_bevt_cfg
    torch.manual_seed(0)
    model = MODELS.build(tiny_bevt_cfg())
    batch = make_batch([modality])  # 64x64 inputs, 4x4 token grid
    sample = batch['data_samples'][0]
    wrong = torch.zeros(grid, grid, dtype=torch.bool)
    wrong[0, 0] = True
    if modality == 'video':
        sample.mask = wrong.expand(2, grid, grid).clone()
        sample.target_mask = wrong.expand(4, grid, grid).clone()
    else:
        sample.mask = sample.target_mask = wrong
    data = model.data_preprocessor(batch, training=True)
    generator = 'TubeMaskGenerator' if modality == 'video' else 'BlockMaskGenerator'
    with pytest.raises(ValueError) as err:
        model(**data, mode='loss')  # the first batch: before the backbone runs
    msg = str(err.value)
    assert f'({grid}, {grid}) grid (input_size of {generator}' in msg
    assert "model's token grid is (4, 4)" in msg and f'{generator}(input_size=4)' in msg


def _merge(cfg, **options):
    from bevt_mm.engine import merge_train_args
    args = Namespace(no_validate=False, launcher='none', work_dir='/tmp/x', amp=False,
                     resume=None, auto_scale_lr=False, seed=None, diff_rank_seed=False,
                     deterministic=False, cfg_options=options, config='toy.py')
    return merge_train_args(cfg, args)


@pytest.mark.parametrize('options,match', [
    ({'train_dataloader.sampler.videos_per_gpu': 0,
      'train_dataloader.sampler.images_per_gpu': 0},
     'videos_per_gpu=0 and images_per_gpu=0: no sample would be loaded'),
    ({'train_dataloader.sampler.videos_per_gpu': 0},
     r'batch_size=12 must equal videos_per_gpu \+ images_per_gpu = 0 \+ 8 = 8'),
    ({'train_dataloader.sampler.images_per_gpu': -1}, r'images_per_gpu=-1: must be'),
])
def test_sampler_counts_in_the_config(options, match):
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))), 'configs', 'toy', 'toy_joint_swin.py'))
    _merge(cfg.copy())  # the shipped config passes
    with pytest.raises(ValueError, match=match):
        _merge(cfg, **options)


def test_sampler_counts_at_build_time():
    from bevt_mm.datasets.samplers import DualDatasetSampler

    class _Concat:
        datasets = [list(range(4)), list(range(6))]

    with pytest.raises(ValueError, match='videos_per_gpu and images_per_gpu'):
        DualDatasetSampler(_Concat(), 0, 0, seed=0, rank=0, world_size=1)

    class _NoImages:
        datasets = [list(range(4)), []]

    with pytest.raises(ValueError, match='images_per_gpu=2 but the image dataset is empty'):
        DualDatasetSampler(_NoImages(), 1, 2, seed=0, rank=0, world_size=1)
