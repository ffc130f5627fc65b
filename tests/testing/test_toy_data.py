"""Toy data generator: real files, balanced labels, determinism, and the temporal property."""
import hashlib
import os.path as osp

import decord
import numpy as np
import pytest
from PIL import Image

from bevt_mm.testing import toy_data as toy

SIZE, FRAMES = 32, 8


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy'))
    meta = toy.make_toy_data(root, seed=0, size=SIZE, num_frames=FRAMES, num_images=(10, 2),
                             num_spatial=(8, 4), num_temporal=(8, 4), photo_fraction=0.5)
    return root, meta


def _rows(path):
    return [(p, int(label)) for p, label in (line.split() for line in open(path))]


def _decode(path):
    vr = decord.VideoReader(path)
    return vr.get_batch(list(range(len(vr)))).asnumpy()


def test_files_decode_with_decord_and_lists_are_balanced(toy_root):
    root, meta = toy_root
    for kind, n_classes in (('spatial', 4), ('temporal', 4)):
        for split, n in (('train', 8), ('val', 4)):
            rows = _rows(osp.join(root, kind, f'{split}_list.txt'))
            assert len(rows) == n
            counts = np.bincount([label for _, label in rows], minlength=n_classes)
            assert counts.max() - counts.min() <= 1
            for rel, _ in rows:
                frames = _decode(osp.join(root, kind, rel))
                assert frames.shape == (FRAMES, SIZE, SIZE, 3) and frames.dtype == np.uint8
        classes = open(osp.join(root, kind, 'classes.txt')).read().split()
        assert len(classes) == n_classes
    rows = _rows(osp.join(root, 'images', 'train_list.txt'))
    assert len(rows) == 10 and {label for _, label in rows} <= set(range(len(toy.IMAGE_CLASSES)))
    img = Image.open(osp.join(root, 'images', rows[0][0]))
    assert img.format == 'JPEG' and img.size == (SIZE, SIZE) and img.mode == 'RGB'
    assert osp.exists(osp.join(root, 'README.md')) and meta['seconds'] > 0


def test_deterministic_from_the_seed(toy_root, tmp_path):
    root, _ = toy_root
    again = str(tmp_path / 'again')
    toy.make_video_set(again, 'temporal', 2, 0, seed=0, size=SIZE, num_frames=FRAMES)
    other = str(tmp_path / 'other')
    toy.make_video_set(other, 'temporal', 2, 0, seed=1, size=SIZE, num_frames=FRAMES)
    for rel in ('train/temporal_train_00000.mp4', 'train/temporal_train_00001.mp4'):
        a = open(osp.join(root, 'temporal', rel), 'rb').read()
        b = open(osp.join(again, 'temporal', rel), 'rb').read()
        assert hashlib.sha1(a).hexdigest() == hashlib.sha1(b).hexdigest()
        assert not np.array_equal(_decode(osp.join(root, 'temporal', rel)),
                                  _decode(osp.join(other, 'temporal', rel)))
    # an item does not depend on how many items are made
    f1, _ = toy.spatial_video(toy.item_rng(0, 'spatial', 'train', 3), 3, SIZE, FRAMES)
    f2, _ = toy.spatial_video(toy.item_rng(0, 'spatial', 'train', 3), 3, SIZE, FRAMES)
    np.testing.assert_array_equal(f1, f2)


def test_spatial_class_is_the_shape():
    for label in range(4):
        _, meta = toy.spatial_video(toy.item_rng(0, 'spatial', 'val', label), label, SIZE, FRAMES)
        assert meta['shape'] == label


def test_temporal_orders_are_permutations_of_one_path():
    n = 16
    orders = [toy.temporal_order(c, n) for c in range(4)]
    for o in orders:
        assert sorted(o.tolist()) == list(range(n))
    assert len({tuple(o) for o in orders}) == 4
    np.testing.assert_array_equal(orders[1], orders[0][::-1])
    np.testing.assert_array_equal(orders[3], orders[2][::-1])
    rng = toy.item_rng(0, 'temporal', 'train', 0)
    frames, meta = toy.temporal_video(rng, 2, SIZE, FRAMES)
    # the shown frames are exactly the path's frames in the class's order
    rng = toy.item_rng(0, 'temporal', 'train', 0)
    frames0, meta0 = toy.temporal_video(rng, 0, SIZE, FRAMES)
    np.testing.assert_array_equal(frames, frames0[toy.temporal_order(2, FRAMES)])


def _object_x(frames):
    """Circular mean x of the object in each frame: the pixels far from the frame's
    median colour (the object contrasts with the background by design)."""
    f = frames.astype(np.float32)
    diff = np.abs(f - np.median(f, axis=(1, 2), keepdims=True)).sum(-1)  # T, H, W
    w = (diff > 120).sum(1).astype(np.float32) + 1e-6  # T, W: object pixels per column
    ang = 2 * np.pi * (np.arange(frames.shape[2]) + 0.5) / frames.shape[2]
    z = (w * np.exp(1j * ang)[None]).sum(1)
    return (np.angle(z) % (2 * np.pi)) * frames.shape[2] / (2 * np.pi)


def _shift_x(a, b):
    """Horizontal translation from frame a to frame b (circular cross-correlation)."""
    pa = a.astype(np.float32).mean((0, 2))
    pb = b.astype(np.float32).mean((0, 2))
    pa, pb = pa - pa.mean(), pb - pb.mean()
    corr = np.fft.ifft(np.conj(np.fft.fft(pa)) * np.fft.fft(pb)).real
    k = int(np.argmax(corr))
    return k if k < len(pa) // 2 else k - len(pa)


def test_temporal_property_frames_alike_order_differs():
    """Decoded toy-temporal videos: per-frame appearance is the same in every class,
    the frame-to-frame motion is not (+v, -v, +2v, -2v)."""
    size, n_frames, per_class = 64, 16, 12
    xs = {c: [] for c in range(4)}
    steps = {c: [] for c in range(4)}
    means = {c: [] for c in range(4)}
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for c in range(4):
            for i in range(per_class):
                frames, _ = toy.temporal_video(toy.item_rng(5, 'temporal', 'train', 4 * i + c), c,
                                               size, n_frames)
                path = osp.join(d, f'{c}_{i}.mp4')
                toy.write_mp4(path, frames)
                frames = _decode(path)
                xs[c].append(_object_x(frames))
                steps[c].append(np.median([_shift_x(frames[t], frames[t + 1])
                                           for t in range(n_frames - 1)]))
                means[c].append(frames.reshape(n_frames, -1, 3).mean(1))  # T, 3
    med = {c: float(np.median(steps[c])) for c in range(4)}
    # ordered frames: the class is the motion between consecutive frames
    assert 4.5 <= med[0] <= 7.5 and -7.5 <= med[1] <= -4.5  # speed 5-7 px/frame at 64 px
    assert 9.5 <= med[2] <= 14.5 and -14.5 <= med[3] <= -9.5  # fast classes: twice the speed
    assert all(np.sign(s) == 1 for s in steps[0] + steps[2])
    assert all(np.sign(s) == -1 for s in steps[1] + steps[3])
    # single frames look alike: at any frame index t the object position, and per video
    # the colour statistics, have the same distribution in every class (one sample per video)
    from scipy.stats import ks_2samp
    x = {c: np.stack(xs[c]) for c in range(4)}  # videos, T
    m = {c: np.stack(means[c]).mean((1, 2)) for c in range(4)}  # videos
    for c in range(1, 4):
        for t in (0, n_frames // 2, n_frames - 1):
            assert ks_2samp(x[0][:, t], x[c][:, t]).pvalue > 0.01
        assert ks_2samp(m[0], m[c]).pvalue > 0.01
    # ... while the same statistic over time (displacement x_4 - x_0) separates them
    disp = {c: (x[c][:, 4] - x[c][:, 0] + size / 2) % size - size / 2 for c in range(4)}
    assert ks_2samp(disp[0], disp[1]).pvalue < 1e-3
    # positions in frame t are spread over the whole width for every t (uniform start)
    x_by_t = np.concatenate([x[c] for c in range(4)])
    assert np.all(np.ptp(x_by_t, axis=0) > size / 2)


def test_cli_writes_sets(tmp_path, capsys, load_tool):
    out = str(tmp_path / 'toy')
    cli = load_tool('make_toy_data.py')
    cli.main(['--out', out, '--seed', '3', '--size', '32', '--frames', '4', '--images', '2', '1',
              '--spatial', '4', '0', '--temporal', '4', '0', '--photo-fraction', '0'])
    assert 'temporal' in capsys.readouterr().out
    assert len(_rows(osp.join(out, 'temporal', 'train_list.txt'))) == 4
    assert _decode(osp.join(out, 'spatial', 'train', 'spatial_train_00000.mp4')).shape[0] == 4


def test_video_workers_write_the_same_files_as_one_process(tmp_path):
    """Every item draws from its own generator: 2 worker processes give identical bytes."""
    one = toy.make_video_set(str(tmp_path / 'one'), 'temporal', 5, 2, seed=3, size=32, num_frames=8)
    two = toy.make_video_set(str(tmp_path / 'two'), 'temporal', 5, 2, seed=3, size=32, num_frames=8,
                         workers=2)
    for split in ('train', 'val'):
        rows_one = open(one[split]).read().split('\n')
        assert rows_one == open(two[split]).read().split('\n')
        for row in filter(None, rows_one):
            rel = row.split()[0]
            a = (tmp_path / 'one' / 'temporal' / rel).read_bytes()
            assert a == (tmp_path / 'two' / 'temporal' / rel).read_bytes(), rel
