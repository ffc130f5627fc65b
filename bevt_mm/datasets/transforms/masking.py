"""Mask generators of BEVT: blockwise (images) and tube (videos) masks.

Both draw from numpy's global RNG, which mmengine seeds per process and per
dataloader worker (``randomness=dict(seed=...)``), so masks are reproducible
under mmengine's seeding. Work per draw is bounded (see :func:`block_mask`).

Output keys (True = masked):

=====================  ================================  ==========================
transform              ``results['mask']``               ``results['target_mask']``
=====================  ================================  ==========================
BlockMaskGenerator     bool ``(Hg, Wg)``                 bool ``(Hg, Wg)`` (same)
TubeMaskGenerator      bool ``(T // temporal_patch,      bool ``(T, Hg, Wg)``: ``mask``
                       Hg, Wg)``                         repeated ``temporal_patch``
                                                         times in time
=====================  ================================  ==========================
"""
import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS


def _pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    assert len(size) == 2, f'expected an int or (h, w), got {size}'
    return int(size[0]), int(size[1])


def block_mask(height: int,
               width: int,
               num_masking_patches: int,
               min_num_patches: int = 16,
               max_num_patches: Optional[int] = None,
               min_aspect: float = 0.3,
               max_aspect: Optional[float] = None,
               max_rounds: int = 200) -> np.ndarray:
    """BEiT's blockwise masking, with bounded work.

    Blocks of ``min_num_patches .. max_num_patches`` patches and log-uniform
    aspect ratio are added until exactly ``num_masking_patches`` positions are
    masked (a block is accepted only if it adds between 1 and the remaining
    number of new positions), exactly as ``MaskingGenerator`` of BEiT/BEVT:
    a block is ``h x w`` with ``h < height`` and ``w < width``, its corner is
    uniform over ``0 .. height - h`` and ``0 .. width - w`` *inclusive*
    (Python's ``random.randint(0, H - h)`` in the authors' code), so blocks
    reach the last row and column about as often as the first
    (``tests/datasets/test_masking.py`` compares the per-position frequency
    with the authors' rule). If ``max_rounds`` rounds of 10 tries do not reach
    the count (rare; it happens only near the whole grid), the remainder is
    filled with random unmasked positions, so the count is always exact (the
    authors' generator then returns fewer).

    Returns:
        np.ndarray: bool ``(height, width)``.
    """
    max_num_patches = num_masking_patches if max_num_patches is None else max_num_patches
    max_aspect = max_aspect or 1 / min_aspect
    log_lo, log_hi = math.log(min_aspect), math.log(max_aspect)
    mask = np.zeros((height, width), dtype=bool)
    count = 0
    # Random numbers are drawn 64 attempts at a time (4 uniforms per attempt:
    # area, log-aspect, top, left) instead of one numpy call per number.
    draws, used = np.empty((0, 4)), 0
    for _ in range(max_rounds):
        if count >= num_masking_patches:
            break
        budget = min(num_masking_patches - count, max_num_patches)
        for _ in range(10):
            if used == len(draws):
                draws, used = np.random.random_sample((64, 4)).tolist(), 0
            u_area, u_aspect, u_top, u_left = draws[used]
            used += 1
            # the same distributions as BEiT: uniform area, log-uniform
            # aspect, uniform integer corner
            area = min_num_patches + (budget - min_num_patches) * u_area
            aspect = math.exp(log_lo + (log_hi - log_lo) * u_aspect)
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if w < width and h < height:
                top = int(u_top * (height - h + 1))  # inclusive: 0 .. height - h
                left = int(u_left * (width - w + 1))
                block = mask[top:top + h, left:left + w]
                delta = h * w - int(block.sum())
                if 0 < delta <= budget:
                    block[...] = True
                    count += delta
                    break
    if count < num_masking_patches:
        free = np.flatnonzero(~mask.ravel())
        pick = free[np.random.permutation(free.size)[:num_masking_patches - count]]
        mask.ravel()[pick] = True
    return mask


class _BlockMaskParams:
    """Shared arguments of the block and tube generators."""

    def _init_block(self, input_size, num_masking_patches, min_num_patches, max_num_patches,
                    min_aspect, max_aspect) -> None:
        self.height, self.width = _pair(input_size)
        self.num_masking_patches = int(num_masking_patches)
        self.min_num_patches = int(min_num_patches)
        self.max_num_patches = max_num_patches
        self.min_aspect = float(min_aspect)
        self.max_aspect = max_aspect
        area = self.height * self.width
        if not 0 < self.num_masking_patches <= area:
            raise ValueError(f'num_masking_patches={num_masking_patches} is not in (0, {area}] '
                             f'for a {self.height}x{self.width} grid')

    def _block(self) -> np.ndarray:
        return block_mask(self.height, self.width, self.num_masking_patches,
                          self.min_num_patches, self.max_num_patches, self.min_aspect,
                          self.max_aspect)

    def _block_repr(self) -> str:
        return (f'input_size=({self.height}, {self.width}), '
                f'num_masking_patches={self.num_masking_patches}, '
                f'min_num_patches={self.min_num_patches}, max_num_patches={self.max_num_patches}, '
                f'min_aspect={self.min_aspect}, max_aspect={self.max_aspect}')


@TRANSFORMS.register_module()
class BlockMaskGenerator(BaseTransform, _BlockMaskParams):
    """BEiT-style blockwise mask on a token grid (BEVT's image stream).

    Usable in MMAction2 pipelines and, since it only writes numpy arrays,
    in mmpretrain-style image pipelines too (``mask`` is the key mmpretrain's
    ``BEiTMaskGenerator`` writes).

    **Added keys**: ``mask`` (bool ``(Hg, Wg)``), ``target_mask`` (the same
    array: for images the target grid is the input grid).

    Args:
        input_size (int | tuple): token grid ``Hg, Wg``. Defaults to 14.
        num_masking_patches (int): masked positions. Defaults to 98.
        min_num_patches (int): smallest block. Defaults to 16.
        max_num_patches (int, optional): largest block (default: no limit
            beyond the remaining count).
        min_aspect (float): smallest aspect ratio. Defaults to 0.3.
        max_aspect (float, optional): largest (default ``1 / min_aspect``).

    Block corners are drawn as in the authors' code (inclusive
    ``randint(0, H - h)``), so every position, the last row and column
    included, is masked (see :func:`block_mask`).
    """

    def __init__(self,
                 input_size: Union[int, Tuple[int, int]] = 14,
                 num_masking_patches: int = 98,
                 min_num_patches: int = 16,
                 max_num_patches: Optional[int] = None,
                 min_aspect: float = 0.3,
                 max_aspect: Optional[float] = None) -> None:
        self._init_block(input_size, num_masking_patches, min_num_patches, max_num_patches,
                         min_aspect, max_aspect)

    def transform(self, results: dict) -> dict:
        """Add ``mask`` and ``target_mask``."""
        mask = self._block()
        results['mask'] = mask
        results['target_mask'] = mask
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self._block_repr()})'


@TRANSFORMS.register_module()
class TubeMaskGenerator(BaseTransform, _BlockMaskParams):
    """Tube mask: one block mask over a random run of temporal positions.

    The temporal grid has ``Tg = num_frames // temporal_patch`` positions. A
    run of ``L`` positions, ``L`` uniform over the integers
    ``max(int(lo * Tg), 1) .. min(int(hi * Tg), Tg)`` for
    ``masked_tube_range=(lo, hi)`` (the authors' rule; ``int`` truncates, so
    ``Tg = 5`` gives 2 .. 5 for the recipe's ``(0.5, 1.0)``),
    starts at a uniform position and wraps around the end
    (``(start + arange(L)) % Tg``); those positions get the block mask, the
    others none. The target mask repeats each temporal position
    ``temporal_patch`` times (one per frame target).

    **Required keys**: ``imgs`` (only when ``num_frames`` is None).
    **Added keys**: ``mask`` (bool ``(Tg, Hg, Wg)``), ``target_mask``
    (bool ``(Tg * temporal_patch, Hg, Wg)``), ``mask_tube`` (int ``(L,)``, the
    masked temporal positions, for inspection).

    Args:
        input_size (int | tuple): spatial token grid. Defaults to 14.
        num_frames (int, optional): frames per clip; None takes
            ``len(results['imgs'])``. Defaults to 16.
        temporal_patch (int): frames per temporal token. Defaults to 2.
        masked_tube_range (tuple): run length as fractions of ``Tg``.
            Defaults to (0.5, 1.0).
        num_masking_patches, min_num_patches, max_num_patches, min_aspect,
        max_aspect: the block mask, see
            :class:`BlockMaskGenerator`.
    """

    def __init__(self,
                 input_size: Union[int, Tuple[int, int]] = 14,
                 num_frames: Optional[int] = 16,
                 temporal_patch: int = 2,
                 masked_tube_range: Tuple[float, float] = (0.5, 1.0),
                 num_masking_patches: int = 98,
                 min_num_patches: int = 16,
                 max_num_patches: Optional[int] = None,
                 min_aspect: float = 0.3,
                 max_aspect: Optional[float] = None) -> None:
        self._init_block(input_size, num_masking_patches, min_num_patches, max_num_patches,
                         min_aspect, max_aspect)
        self.num_frames = num_frames
        self.temporal_patch = int(temporal_patch)
        lo, hi = masked_tube_range
        if not 0 <= lo <= hi <= 1:
            raise ValueError('masked_tube_range must satisfy 0 <= lo <= hi <= 1, got '
                             f'{masked_tube_range}')
        self.masked_tube_range = (float(lo), float(hi))
        if num_frames is not None:
            self._check_frames(num_frames)

    def _check_frames(self, num_frames: int) -> int:
        if num_frames % self.temporal_patch:
            raise ValueError(f'{num_frames} frames are not a multiple of temporal_patch='
                             f'{self.temporal_patch}')
        grid = num_frames // self.temporal_patch
        lo, hi = self.tube_length_range(grid)
        if hi < max(lo, 1):
            raise ValueError(f'masked_tube_range={self.masked_tube_range} allows no tube length '
                             f'on a temporal grid of {grid}')
        return grid

    def tube_length_range(self, grid: int) -> Tuple[int, int]:
        """Smallest and largest tube length (inclusive) on a temporal grid.

        The authors' rule: ``max(int(lo * grid), 1)`` .. ``min(int(hi * grid),
        grid)`` with ``int`` truncating (``(0.5, 1.0)`` on 5 positions: 2 .. 5).
        """
        lo = max(int(self.masked_tube_range[0] * grid), 1)
        hi = min(int(self.masked_tube_range[1] * grid), grid)
        return lo, hi

    def transform(self, results: dict) -> dict:
        """Add ``mask``, ``target_mask`` and ``mask_tube``."""
        num_frames = self.num_frames
        if num_frames is None:
            num_frames = len(results['imgs'])
        elif 'imgs' in results and len(results['imgs']) != num_frames:
            raise ValueError(f'TubeMaskGenerator(num_frames={num_frames}) got a clip of '
                             f'{len(results["imgs"])} frames; set num_frames to the clip length '
                             '(or None to take it from the clip)')
        grid = self._check_frames(num_frames)
        lo, hi = self.tube_length_range(grid)
        length = np.random.randint(lo, hi + 1)
        start = np.random.randint(0, grid)
        tube = (start + np.arange(length)) % grid
        mask = np.zeros((grid, self.height, self.width), dtype=bool)
        mask[tube] = self._block()
        results['mask'] = mask
        results['target_mask'] = np.repeat(mask, self.temporal_patch, axis=0)
        results['mask_tube'] = tube
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self._block_repr()}, num_frames={self.num_frames}, '
                f'temporal_patch={self.temporal_patch}, '
                f'masked_tube_range={self.masked_tube_range})')
