"""SingleFrame / ShuffleFrames: exact frames, permutations, seeding, clips, real pipelines."""
import os.path as osp

import numpy as np
import pytest
from mmengine.dataset import Compose

from bevt_mm.testing.toy_data import make_video_set
from bevt_mm.datasets.transforms.temporal import ShuffleFrames, SingleFrame
from mmaction.registry import TRANSFORMS


def _results(n_clips=1, clip_len=8, filename='a.mp4'):
    imgs = [np.full((4, 5, 3), i, np.uint8) for i in range(n_clips * clip_len)]
    return dict(imgs=imgs, clip_len=clip_len, num_clips=n_clips, filename=filename,
                frame_inds=np.arange(100, 100 + n_clips * clip_len))


def _ids(results):
    return [int(im[0, 0, 0]) for im in results['imgs']]


def test_registered():
    assert TRANSFORMS.get('SingleFrame') is SingleFrame
    assert TRANSFORMS.get('ShuffleFrames') is ShuffleFrames
    assert isinstance(TRANSFORMS.build(dict(type='ShuffleFrames', seed=2)), ShuffleFrames)


@pytest.mark.parametrize('index,expected', [('middle', 4), ('first', 0), ('last', 7), (2, 2),
                                            (-1, 7)])
def test_single_frame_one_clip(index, expected):
    r = _results()
    src = [im.copy() for im in r['imgs']]
    out = SingleFrame(index=index)(r)
    assert len(out['imgs']) == 8
    for im in out['imgs']:
        np.testing.assert_array_equal(im, src[expected])
    np.testing.assert_array_equal(out['frame_inds'], np.full(8, 100 + expected))


def test_single_frame_per_clip_and_errors():
    out = SingleFrame()(_results(n_clips=3, clip_len=4))
    assert _ids(out) == [2] * 4 + [6] * 4 + [10] * 4
    out = SingleFrame(scope='all')(_results(n_clips=3, clip_len=4))
    assert _ids(out) == [6] * 12
    # TSN-style segments (clip_len=1): the whole sequence is the unit
    out = SingleFrame()(_results(n_clips=8, clip_len=1))
    assert _ids(out) == [4] * 8
    with pytest.raises(IndexError):
        SingleFrame(index=8)(_results())
    with pytest.raises(ValueError):
        SingleFrame(index='centre')
    bad = _results(n_clips=2, clip_len=4)
    bad['imgs'] = bad['imgs'] * 3  # e.g. after ThreeCrop: too late in the pipeline
    with pytest.raises(ValueError):
        SingleFrame()(bad)


def test_shuffle_is_a_per_clip_permutation_and_seeded_per_sample():
    t = ShuffleFrames(seed=0)
    out = t(_results(n_clips=3, clip_len=8))
    ids = _ids(out)
    for c in range(3):
        assert sorted(ids[8 * c:8 * c + 8]) == list(range(8 * c, 8 * c + 8))
    assert ids != list(range(24))
    np.testing.assert_array_equal(out['shuffle_perm'], ids)
    np.testing.assert_array_equal(out['frame_inds'], 100 + np.asarray(ids))
    # same sample -> same order (any instance, any call order); other sample/seed -> other
    assert _ids(ShuffleFrames(seed=0)(_results(3))) == _ids(t(_results(3)))
    t(_results(3, filename='zzz.mp4'))
    assert _ids(t(_results(3))) == ids
    others = {tuple(_ids(ShuffleFrames(seed=0)(_results(filename=f'{i}.mp4')))) for i in range(5)}
    assert len(others) > 1
    assert _ids(ShuffleFrames(seed=1)(_results())) != _ids(ShuffleFrames(seed=0)(_results()))
    # the images themselves are moved, not copied or changed
    r = _results()
    src = list(r['imgs'])
    out = ShuffleFrames(seed=5)(r)
    for k, im in zip(out['shuffle_perm'], out['imgs']):
        assert im is src[k]


def test_shuffle_sequence_draw_mode():
    t = ShuffleFrames(seed=0, per_sample_seed=False)
    a, b = _ids(t(_results())), _ids(t(_results()))
    assert a != b  # a stream of permutations
    t2 = ShuffleFrames(seed=0, per_sample_seed=False)
    assert [_ids(t2(_results())), _ids(t2(_results()))] == [a, b]


def test_frame_inds_mode_before_decoding():
    r = dict(frame_inds=np.arange(10, 26), clip_len=8, num_clips=2, filename='v.mp4')
    out = ShuffleFrames(seed=0)(dict(r))
    assert sorted(out['frame_inds'][:8]) == list(range(10, 18))
    assert sorted(out['frame_inds'][8:]) == list(range(18, 26))
    out = SingleFrame(index='first')(dict(r))
    assert out['frame_inds'].tolist() == [10] * 8 + [18] * 8


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('vids'))
    make_video_set(root, 'spatial', 2, 0, seed=0, size=32, num_frames=16)
    return osp.join(root, 'spatial', 'train')


@pytest.mark.parametrize('where', ['after_decode', 'before_decode'])
def test_in_mmaction_pipeline_multi_clip(videos, where):
    """Standard SampleFrames(num_clips=2) -> DecordDecode -> FormatShape pipeline."""
    def pipeline(extra):
        steps = [dict(type='DecordInit'),
                 dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=2,
                      test_mode=True),
                 dict(type='DecordDecode'),
                 dict(type='FormatShape', input_format='NCTHW'),
                 dict(type='PackActionInputs')]
        if extra is not None:
            steps.insert(3 if where == 'after_decode' else 2, extra)
        return Compose([TRANSFORMS.build(s) for s in steps])

    sample = dict(filename=osp.join(videos, 'spatial_train_00000.mp4'), label=0, start_index=0,
                  modality='RGB')
    base = pipeline(None)(dict(sample))['inputs'].numpy()  # (2 clips, C, T, H, W)
    assert base.shape == (2, 3, 4, 32, 32)
    single = pipeline(dict(type='SingleFrame'))(dict(sample))['inputs'].numpy()
    for c in range(2):
        for t in range(4):
            np.testing.assert_array_equal(single[c, :, t], base[c, :, 2])
    shuffled = pipeline(dict(type='ShuffleFrames', seed=0))(dict(sample))['inputs'].numpy()
    again = pipeline(dict(type='ShuffleFrames', seed=0))(dict(sample))['inputs'].numpy()
    np.testing.assert_array_equal(shuffled, again)
    for c in range(2):
        frames = [base[c, :, t] for t in range(4)]
        perm = []
        for t in range(4):  # every shuffled frame is one of the same clip's frames
            match = [k for k, f in enumerate(frames) if np.array_equal(shuffled[c, :, t], f)]
            assert match
            perm.append(match[0])
        assert sorted(perm) == [0, 1, 2, 3]
