"""Statistics of the block and tube masks over many draws."""
import time

import numpy as np
import pytest

from bevt_mm.datasets.transforms import BlockMaskGenerator, TubeMaskGenerator, block_mask
from mmaction.registry import TRANSFORMS


def test_block_mask_exact_count_and_shape():
    gen = TRANSFORMS.build(dict(type='BlockMaskGenerator'))
    np.random.seed(0)
    counts, cover = [], np.zeros((14, 14))
    for _ in range(1000):
        out = gen({})
        mask = out['mask']
        assert mask.dtype == bool and mask.shape == (14, 14)
        assert out['target_mask'] is mask
        counts.append(int(mask.sum()))
        cover += mask
    assert set(counts) == {98}
    # the authors' generator never touches the last row/column ...
    assert cover[-1].sum() == 0 and cover[:, -1].sum() == 0
    # ... and covers every other position sometimes
    assert (cover[:-1, :-1] > 0).all()


@pytest.mark.parametrize('count', [1, 16, 60, 98, 150, 169])
def test_block_mask_count_when_feasible(count):
    np.random.seed(count)
    for _ in range(50):
        assert block_mask(14, 14, count).sum() == count
    for _ in range(20):
        m = block_mask(14, 14, min(count, 196), cover_edges=True)
        assert m.sum() == min(count, 196)


def test_block_mask_cover_edges_reaches_edges():
    np.random.seed(1)
    cover = sum(block_mask(14, 14, 98, cover_edges=True).astype(int) for _ in range(300))
    assert cover[-1].sum() > 0 and cover[:, -1].sum() > 0


def test_block_mask_infeasible_raises():
    with pytest.raises(ValueError):
        BlockMaskGenerator(num_masking_patches=170)  # > 13 * 13
    with pytest.raises(ValueError):
        BlockMaskGenerator(num_masking_patches=0)


def test_block_masks_are_blocky():
    """Masks are unions of few rectangles: far fewer 4-neighbour boundaries than random."""
    np.random.seed(2)
    edges = []
    for _ in range(200):
        m = block_mask(14, 14, 98).astype(int)
        edges.append(np.abs(np.diff(m, axis=0)).sum() + np.abs(np.diff(m, axis=1)).sum())
    rand = np.zeros(196, int)
    rand[:98] = 1
    rand_edges = []
    for _ in range(200):
        r = np.random.permutation(rand).reshape(14, 14)
        rand_edges.append(np.abs(np.diff(r, axis=0)).sum() + np.abs(np.diff(r, axis=1)).sum())
    assert np.mean(edges) < 0.5 * np.mean(rand_edges)


def test_tube_mask_runs_wrap_and_upsampling():
    gen = TRANSFORMS.build(dict(type='TubeMaskGenerator', num_frames=16, temporal_patch=2,
                                masked_tube_range=(0.5, 1.0)))
    np.random.seed(0)
    lengths, starts, wrapped = [], [], 0
    for _ in range(2000):
        out = gen({})
        mask, target, tube = out['mask'], out['target_mask'], out['mask_tube']
        assert mask.shape == (8, 14, 14) and mask.dtype == bool
        assert target.shape == (16, 14, 14) and target.dtype == bool
        # the temporal upsampling: frame t uses position t // 2
        np.testing.assert_array_equal(target, mask[np.arange(16) // 2])
        masked_t = np.flatnonzero(mask.any(axis=(1, 2)))
        assert sorted(tube.tolist()) == masked_t.tolist()
        # one block mask repeated over the run, 98 patches each
        for t in masked_t:
            np.testing.assert_array_equal(mask[t], mask[masked_t[0]])
            assert mask[t].sum() == 98
        # a contiguous run modulo 8 starting at tube[0]
        assert tube.tolist() == [(tube[0] + k) % 8 for k in range(len(tube))]
        lengths.append(len(tube))
        starts.append(int(tube[0]))
        wrapped += int(tube[0] + len(tube) > 8)
    assert set(lengths) == {4, 5, 6, 7, 8}
    assert set(starts) == set(range(8))
    assert wrapped > 0
    # lengths roughly uniform
    hist = np.bincount(lengths, minlength=9)[4:]
    assert hist.min() > 0.6 * hist.max()


def test_tube_mask_frames_from_results_and_ranges():
    gen = TubeMaskGenerator(num_frames=None, temporal_patch=2, masked_tube_range=(1.0, 1.0))
    out = gen({'imgs': [None] * 8})
    assert out['mask'].shape == (4, 14, 14) and out['mask'].any(axis=(1, 2)).all()
    assert gen.tube_length_range(8) == (8, 8)
    assert TubeMaskGenerator(masked_tube_range=(0.3, 0.6)).tube_length_range(8) == (3, 4)
    with pytest.raises(ValueError):
        TubeMaskGenerator(num_frames=15, temporal_patch=2)


def test_masks_deterministic_under_seed():
    gen = TubeMaskGenerator()
    np.random.seed(123)
    a = [gen({})['mask'] for _ in range(5)]
    np.random.seed(123)
    b = [gen({})['mask'] for _ in range(5)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_mask_speed():
    block, tube = BlockMaskGenerator(), TubeMaskGenerator()
    np.random.seed(0)
    n = 500
    t0 = time.perf_counter()
    for _ in range(n):
        block({})
    t1 = time.perf_counter()
    for _ in range(n):
        tube({})
    t2 = time.perf_counter()
    block_us, tube_us = (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6
    print(f'\nBlockMaskGenerator: {block_us:.0f} us/image, '
          f'TubeMaskGenerator: {tube_us:.0f} us/clip')
    assert block_us < 2000 and tube_us < 2000


def test_tube_mask_rejects_wrong_clip_length():
    with pytest.raises(ValueError, match='num_frames'):
        TubeMaskGenerator(num_frames=16)({'imgs': [None] * 8})
