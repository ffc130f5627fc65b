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


def pil_to_rgb(img: Image.Image) -> np.ndarray:
    """Convert any Pillow image to uint8 RGB ``(H, W, 3)``, rescaling deep modes.

    Pillow's ``convert('RGB')`` clamps 16/32-bit values to 255 (a 0..65535
    ramp becomes ~98 % white) and truncates floats, so deep modes are scaled
    to 8 bits first:

    * ``I;16``, ``I;16B``, ``I;16L``, ``I;16N`` (16-bit PNG/TIFF), and ``I``
      (32-bit int) holding values in 0..65535: ``round(value / 257)``
      (65535 -> 255; the absolute scale is kept, a dark image stays dark).
      ``I`` with values outside 0..65535: the image's own min..max.
    * ``F`` (float TIFF): values in [0, 1] -> ``round(value * 255)``;
      otherwise the image's own min..max.

    Other modes (``L``, ``1``, ``P``, ``LA``, ``PA``, ``RGBA``, ``CMYK``, and
    16-bit RGB PNG/TIFF, which Pillow itself reads as 8-bit ``RGB``) go
    through ``convert('RGB')`` (alpha dropped).

    Returns:
        np.ndarray: uint8 ``(H, W, 3)``.
    """
    if img.mode.startswith('I') or img.mode == 'F':
        value = np.asarray(img).astype(np.float64)
        lo, hi = (float(value.min()), float(value.max())) if value.size else (0.0, 0.0)
        if img.mode == 'F' and lo >= 0 and hi <= 1:
            gray = value * 255
        elif img.mode != 'F' and lo >= 0 and hi <= 65535:
            gray = value / 257
        else:  # outside the type's usual range: the image's own range
            gray = (value - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(value)
        gray = np.clip(np.round(gray), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    return np.asarray(img.convert('RGB'))


@TRANSFORMS.register_module()
class LoadImageAsClip(BaseTransform):
    """Decode an image file into a one-frame clip for MMAction2 transforms.

    **Required keys**: ``img_path`` (or ``filename``).
    Any Pillow mode becomes uint8 RGB; 16-bit and float images are rescaled
    to 8 bits, not clamped (see :func:`pil_to_rgb`).

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
                array = pil_to_rgb(img)
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
