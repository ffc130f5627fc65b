"""Test-time transforms for the temporal-dependence analysis (BEVT paper, Sec. 4).

``SingleFrame`` replaces every frame by one chosen frame; ``ShuffleFrames``
shows the frames in a random order. Both work on the sampled frames of a
standard MMAction2 pipeline (``SampleFrames`` -> ``DecordInit`` ->
``DecordDecode`` -> ...), and both can be placed either

* **after the decode step** (recommended; what
  ``tools/analysis/temporal_dependence.py`` does): they reorder
  ``results['imgs']`` (a list of ``H x W x C`` arrays), or
* **before the decode step** (after ``SampleFrames``): they reorder
  ``results['frame_inds']``, so the decoder reads the frames in the new
  order (cheaper, same result for ``DecordDecode``/``PyAVDecode``/``RawFrameDecode``).

If ``imgs`` is present it is used (and ``frame_inds``, when it has one entry
per image, is reordered the same way so the two stay consistent); otherwise
``frame_inds`` is.

Clips. ``SampleFrames`` lays out ``num_clips * clip_len`` frames clip after
clip, and ``FormatShape`` cuts them back into clips. With ``scope='auto'``
(default) a clip is the unit: frames are chosen/shuffled inside each clip of
``clip_len`` frames, so multi-clip test sampling (``num_clips > 1``) keeps
each clip's frames in that clip. When ``clip_len == 1`` (TSN/TSM-style
segment sampling, where the "clips" are the frames of one sequence) the whole
sequence is the unit. ``scope='clip'`` / ``scope='all'`` force either.

Seeding. ``ShuffleFrames`` draws its permutation from a generator seeded by
``seed`` and the sample's identity (``filename`` / ``frame_dir`` and
``sample_idx`` when present), so a sample is shuffled the same way every time,
in any worker and any process, and different samples differently.
"""
import zlib
from typing import Dict, List, Optional, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS

_SCOPES = ('auto', 'clip', 'all')


def _groups(results: Dict, n: int, scope: str) -> List[np.ndarray]:
    """Index groups (clips) within ``n`` sampled frames."""
    if scope not in _SCOPES:
        raise ValueError(f'scope must be one of {_SCOPES}, got {scope!r}')
    clip_len = results.get('clip_len')
    if isinstance(clip_len, dict):  # e.g. {'RGB': 8, 'Pose': 32}
        clip_len = clip_len.get('RGB')
    num_clips = results.get('num_clips')
    if scope == 'auto':
        scope = 'all' if clip_len in (None, 1) else 'clip'
    if scope == 'all':
        return [np.arange(n)]
    if not clip_len:
        raise KeyError("scope='clip' needs results['clip_len'] (set by SampleFrames)")
    if n % clip_len:
        raise ValueError(f'{n} frames are not a whole number of clips of clip_len={clip_len}')
    if num_clips is not None and num_clips * clip_len != n:
        raise ValueError(f'expected num_clips * clip_len = {num_clips} * {clip_len} frames, '
                         f'got {n}; put the transform right after SampleFrames or the decode '
                         'step, before crops/FormatShape')
    return [np.arange(s, s + clip_len) for s in range(0, n, clip_len)]


def _reorder(results: Dict, perm: np.ndarray) -> Dict:
    """Apply one permutation/selection of sampled-frame positions."""
    if 'imgs' in results:
        imgs = results['imgs']
        if isinstance(imgs, np.ndarray):
            results['imgs'] = imgs[perm]
        else:
            results['imgs'] = [imgs[i] for i in perm]
        inds = results.get('frame_inds')
        if isinstance(inds, np.ndarray) and inds.ndim == 1 and len(inds) == len(perm):
            results['frame_inds'] = inds[perm]
    elif 'frame_inds' in results:
        inds = np.asarray(results['frame_inds'])
        if inds.ndim != 1:
            inds = np.squeeze(inds)
        results['frame_inds'] = inds[perm]
    else:
        raise KeyError("needs results['imgs'] (after decoding) or results['frame_inds'] "
                       '(after SampleFrames)')
    return results


def _num_frames(results: Dict) -> int:
    if 'imgs' in results:
        return len(results['imgs'])
    if 'frame_inds' in results:
        return int(np.asarray(results['frame_inds']).reshape(-1).shape[0])
    raise KeyError("needs results['imgs'] (after decoding) or results['frame_inds'] "
                   '(after SampleFrames)')


@TRANSFORMS.register_module()
class SingleFrame(BaseTransform):
    """Replace every frame of each clip by one frame of that clip.

    Required keys: ``imgs`` or ``frame_inds``; ``clip_len``/``num_clips`` (from
    ``SampleFrames``) for per-clip operation. Modified keys: ``imgs`` and/or
    ``frame_inds``. Added key: ``single_frame_index`` (the chosen position in
    each group).

    Args:
        index (str | int): which frame of each clip: ``'middle'`` (default,
            position ``clip_len // 2``), ``'first'``, ``'last'``, or an int
            position (negative counts from the end).
        scope (str): ``'auto'`` | ``'clip'`` | ``'all'``; see the module doc.
    """

    def __init__(self, index: Union[str, int] = 'middle', scope: str = 'auto') -> None:
        if isinstance(index, str) and index not in ('middle', 'first', 'last'):
            raise ValueError(f"index must be 'middle', 'first', 'last' or an int, got {index!r}")
        if scope not in _SCOPES:
            raise ValueError(f'scope must be one of {_SCOPES}, got {scope!r}')
        self.index = index
        self.scope = scope

    def _position(self, length: int) -> int:
        if self.index == 'middle':
            return length // 2
        if self.index == 'first':
            return 0
        if self.index == 'last':
            return length - 1
        pos = int(self.index)
        if not -length <= pos < length:
            raise IndexError(f'frame index {pos} out of range for a clip of {length} frames')
        return pos % length

    def transform(self, results: Dict) -> Dict:
        groups = _groups(results, _num_frames(results), self.scope)
        pos = self._position(len(groups[0]))
        sel = np.concatenate([np.full(len(g), g[pos]) for g in groups])
        results['single_frame_index'] = pos
        return _reorder(results, sel)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(index={self.index!r}, scope={self.scope!r})'


@TRANSFORMS.register_module()
class ShuffleFrames(BaseTransform):
    """Show the frames of each clip in a random order, seeded per sample.

    Required keys: ``imgs`` or ``frame_inds``; ``clip_len``/``num_clips`` for
    per-clip operation; ``filename``/``frame_dir``/``sample_idx`` for seeding
    (any present). Modified keys: ``imgs`` and/or ``frame_inds``. Added key:
    ``shuffle_perm`` (the permutation applied to the sampled frames).

    Args:
        seed (int): base seed. Default 0.
        scope (str): ``'auto'`` | ``'clip'`` | ``'all'``; see the module doc.
        per_sample_seed (bool): derive the generator from ``seed`` and the
            sample's identity (default). If False, one generator seeded with
            ``seed`` is drawn from call after call (the order then depends on
            the order samples are loaded in).
    """

    def __init__(self, seed: int = 0, scope: str = 'auto', per_sample_seed: bool = True) -> None:
        if scope not in _SCOPES:
            raise ValueError(f'scope must be one of {_SCOPES}, got {scope!r}')
        self.seed = int(seed)
        self.scope = scope
        self.per_sample_seed = per_sample_seed
        self._rng: Optional[np.random.Generator] = None

    @staticmethod
    def sample_key(results: Dict) -> int:
        """A stable 32-bit key for a sample (independent of hash seeds)."""
        ident = '|'.join(str(results.get(k, '')) for k in ('filename', 'frame_dir', 'sample_idx'))
        return zlib.crc32(ident.encode('utf-8'))

    def _generator(self, results: Dict) -> np.random.Generator:
        if self.per_sample_seed:
            return np.random.default_rng([self.seed, self.sample_key(results)])
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    def transform(self, results: Dict) -> Dict:
        rng = self._generator(results)
        groups = _groups(results, _num_frames(results), self.scope)
        perm = np.concatenate([g[rng.permutation(len(g))] for g in groups])
        results['shuffle_perm'] = perm
        return _reorder(results, perm)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(seed={self.seed}, scope={self.scope!r}, '
                f'per_sample_seed={self.per_sample_seed})')
