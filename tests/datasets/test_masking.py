"""Statistics of the block and tube masks over many draws."""
import math
import random
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
    assert (cover > 0).all()  # every position, the last row/column included


def _authors_block_mask(rng: random.Random, height=14, width=14, num_masking_patches=98,
                        min_num_patches=16, min_aspect=0.3) -> np.ndarray:
    """BEiT's / BEVT's MaskingGenerator rule, written out with Python's ``random``:
    uniform area, log-uniform aspect, corner ``randint(0, H - h)`` (inclusive); a block
    counts if it adds 1 .. remaining new positions; stop after 10 futile tries."""
    log_lo, log_hi = math.log(min_aspect), math.log(1 / min_aspect)
    mask = np.zeros((height, width), bool)
    count = 0
    while count < num_masking_patches:
        budget = num_masking_patches - count
        delta = 0
        for _ in range(10):
            area = rng.uniform(min_num_patches, budget)
            aspect = math.exp(rng.uniform(log_lo, log_hi))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if w < width and h < height:
                top, left = rng.randint(0, height - h), rng.randint(0, width - w)
                new = h * w - int(mask[top:top + h, left:left + w].sum())
                if 0 < new <= budget:
                    mask[top:top + h, left:left + w] = True
                    delta = new
                    break
        if delta == 0:
            break
        count += delta
    return mask


def test_block_mask_position_frequency_matches_the_authors_rule():
    """Recipe settings (14x14, 98 patches, min 16, aspect 0.3): how often the first and last
    row/column and the centre are masked agrees with the authors' rule (2000 draws each)."""
    gen = BlockMaskGenerator(input_size=14, num_masking_patches=98, min_num_patches=16,
                             min_aspect=0.3)
    np.random.seed(0)
    ours = np.mean([gen({})['mask'] for _ in range(2000)], axis=0)
    rng = random.Random(0)
    ref = np.mean([_authors_block_mask(rng) for _ in range(2000)], axis=0)
    regions = dict(first_row=np.s_[0, :], last_row=np.s_[-1, :], first_col=np.s_[:, 0],
                   last_col=np.s_[:, -1], centre=np.s_[5:9, 5:9])
    for name, sl in regions.items():
        # the standard error of a region's mean over 2000 draws is ~0.01
        assert abs(ours[sl].mean() - ref[sl].mean()) < 0.04, (name, ours[sl].mean(),
                                                              ref[sl].mean())
    # the authors' rule reaches the last row/column about as often as the first
    assert ref[-1].mean() > 0.7 * ref[0].mean() and ours[-1].mean() > 0.7 * ours[0].mean()
    assert ours[:, -1].mean() > 0.7 * ours[:, 0].mean()
    assert abs(ours.mean() - 0.5) < 1e-9  # 98 of 196, exactly, every draw


@pytest.mark.parametrize('count', [1, 16, 60, 98, 150, 169])
def test_block_mask_count_when_feasible(count):
    np.random.seed(count)
    for _ in range(50):
        assert block_mask(14, 14, count).sum() == count
    for count in (180, 196):  # near and at the whole grid
        assert block_mask(14, 14, count).sum() == count


def test_block_mask_infeasible_raises():
    with pytest.raises(ValueError):
        BlockMaskGenerator(num_masking_patches=197)  # > 14 * 14
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
    # the authors' int() truncation: int(0.3 * 8) = 2, int(0.6 * 8) = 4
    assert TubeMaskGenerator(masked_tube_range=(0.3, 0.6)).tube_length_range(8) == (2, 4)
    with pytest.raises(ValueError):
        TubeMaskGenerator(num_frames=15, temporal_patch=2)


@pytest.mark.parametrize('grid', [1, 2, 3, 5, 8])
def test_tube_length_follows_the_authors_rule(grid):
    """Lengths uniform over max(int(0.5 Tg), 1) .. min(int(1.0 Tg), Tg) (int() truncates):
    Tg=5 gives {2, 3, 4, 5}, Tg=3 gives {1, 2, 3}."""
    gen = TubeMaskGenerator(input_size=4, num_masking_patches=4, min_num_patches=4,
                            num_frames=2 * grid, temporal_patch=2, masked_tube_range=(0.5, 1.0))
    expected = list(range(max(int(0.5 * grid), 1), min(int(1.0 * grid), grid) + 1))
    np.random.seed(grid)
    lengths = np.array([len(gen({})['mask_tube']) for _ in range(400)])
    assert sorted(set(lengths.tolist())) == expected
    hist = np.array([(lengths == n).sum() for n in expected])
    assert hist.min() > 0.6 * hist.max()  # uniform: 400 / len(expected) each, +-15 %


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
