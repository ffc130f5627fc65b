"""Second, smaller copy of each frame for the tokenizer."""
from typing import Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS


@TRANSFORMS.register_module()
class TokenizerView(BaseTransform):
    """Resize the augmented frames to the tokenizer's input size.

    Place it after the shared crop/flip (and colour jitter): the tokenizer
    sees exactly the pixels the backbone sees, at 112x112 instead of 224x224
    (BEVT's recipe: lanczos, then DALL-E's pixel mapping). Works for videos
    and for images loaded as one-frame clips.

    The tokenizer's *pixel mapping* (DALL-E's ``map_pixels`` with eps 0.1,
    VQGAN's [-1, 1], ImageNet normalization) is not applied here: it is a
    property of the tokenizer module and runs on the device inside it
    (``bevt_mm.models.tokenizers``). The view therefore stays uint8, which
    moves 4x fewer bytes through the dataloader than float32 would.

    **Required keys**: ``imgs`` (list of ``HxWx3`` uint8).
    **Added keys**: ``tokenizer_imgs`` (list of ``size x size x 3`` uint8,
    one per frame).

    Args:
        size (int | tuple): output ``(h, w)``. Defaults to 112.
        interpolation (str): mmcv interpolation name. Defaults to
            ``'lanczos'``.
        backend (str): ``'pillow'`` (PIL's antialiased LANCZOS, as the
            authors' torchvision-on-PIL pipeline) or ``'cv2'`` (faster,
            LANCZOS4 without antialiasing). Defaults to ``'pillow'``.
    """

    def __init__(self, size: Union[int, Tuple[int, int]] = 112, interpolation: str = 'lanczos',
                 backend: str = 'pillow') -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.interpolation = interpolation
        self.backend = backend

    def transform(self, results: dict) -> dict:
        """Add ``tokenizer_imgs``."""
        h, w = self.size
        out = []
        for img in results['imgs']:
            if img.shape[:2] == (h, w):
                out.append(np.ascontiguousarray(img))
            else:
                out.append(mmcv.imresize(np.ascontiguousarray(img), (w, h),
                                         interpolation=self.interpolation,
                                         backend=self.backend))
        results['tokenizer_imgs'] = out
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, interpolation={self.interpolation}, '
                f'backend={self.backend})')
