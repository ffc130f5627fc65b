"""Decode transforms that fail loudly with the file's path.

Errors raised here are :class:`DecodeError` (a ``RuntimeError``), which the
robust datasets (:mod:`bevt_mm.datasets.robust`) log, count and replace with
another sample.
"""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageOps

from mmaction.registry import TRANSFORMS


class DecodeError(RuntimeError):
    """A file could not be decoded into usable frames."""


@TRANSFORMS.register_module()
class LoadImageAsClip(BaseTransform):
    """Decode an image file into a one-frame clip for MMAction2 transforms.

    **Required keys**: ``img_path`` (or ``filename``).
    **Added keys**: ``imgs`` (``[HxWx3 uint8 RGB]``), ``img_shape``,
    ``original_shape``, ``num_clips`` (1), ``clip_len`` (1), ``modality``
    (``'RGB'`` if absent: MMAction2's ``Flip`` reads it).

    Args:
        exif_orientation (bool): apply the EXIF orientation tag.
            Defaults to True.
    """

    def __init__(self, exif_orientation: bool = True) -> None:
        self.exif_orientation = exif_orientation

    def transform(self, results: dict) -> dict:
        """Decode ``img_path`` with Pillow."""
        path = results.get('img_path', results.get('filename'))
        try:
            with Image.open(path) as img:
                img.load()
                if self.exif_orientation:
                    img = ImageOps.exif_transpose(img)
                array = np.asarray(img.convert('RGB'))
        except (OSError, ValueError, SyntaxError) as err:
            raise DecodeError(f'cannot decode image {path}: {type(err).__name__}: {err}') from err
        results['imgs'] = [array]
        results['img_shape'] = array.shape[:2]
        results['original_shape'] = array.shape[:2]
        results['num_clips'] = 1
        results['clip_len'] = 1
        results.setdefault('modality', 'RGB')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(exif_orientation={self.exif_orientation})'


@TRANSFORMS.register_module()
class CheckVideoLength(BaseTransform):
    """Reject videos with fewer than ``min_frames`` frames.

    Put it after ``DecordInit`` (which sets ``total_frames``). Short videos
    raise :class:`DecodeError`, so a robust dataset replaces them.

    Args:
        min_frames (int): smallest usable frame count. Defaults to 1.
    """

    def __init__(self, min_frames: int = 1) -> None:
        self.min_frames = min_frames

    def transform(self, results: dict) -> Optional[dict]:
        """Check ``total_frames``."""
        total = results.get('total_frames')
        if total is None or total < self.min_frames:
            raise DecodeError(f'video {results.get("filename")} has {total} frames, '
                              f'fewer than min_frames={self.min_frames}')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(min_frames={self.min_frames})'
