"""Pack a BEVT sample into the data contract (docs/architecture.md)."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS
from mmaction.structures import ActionDataSample


def _frames_to_tensor(frames: Sequence[np.ndarray], video: bool) -> torch.Tensor:
    """``T`` frames ``HxWxC`` -> uint8 ``(C, T, H, W)`` (video) / ``(C, H, W)``."""
    if video:
        array = np.stack(frames).transpose(3, 0, 1, 2)
    else:
        if len(frames) != 1:
            raise ValueError(f'an image sample must hold one frame, got {len(frames)}')
        array = frames[0].transpose(2, 0, 1)
    if array.dtype != np.uint8:
        raise TypeError(f'BEVT inputs must be uint8 frames, got {array.dtype}')
    return torch.from_numpy(np.ascontiguousarray(array))


@TRANSFORMS.register_module()
class PackBEVTInputs(BaseTransform):
    """Pack frames, masks and the tokenizer view for ``BEVTDataPreprocessor``.

    **Required keys**: ``imgs`` (list of ``HxWx3`` uint8), ``mask``;
    optional ``target_mask``, ``tokenizer_imgs``, ``gt_label`` and the
    ``meta_keys``.

    **Output**: ``dict(inputs=Tensor, data_samples=ActionDataSample)`` with

    * ``inputs``: uint8 ``(C, T, H, W)`` (video) or ``(C, H, W)`` (image);
    * metainfo ``modality``: ``'video'`` or ``'image'``, plus ``meta_keys``;
    * ``mask``: bool ``(T // temporal_patch, Hg, Wg)`` / ``(Hg, Wg)``;
    * ``target_mask``: bool ``(T, Hg, Wg)`` / ``(Hg, Wg)`` (``mask`` if absent);
    * ``tokenizer_inputs``: uint8 ``(C, T, h, w)`` / ``(C, h, w)`` if the
      pipeline has a :class:`TokenizerView`;
    * ``gt_label`` if the sample has one (unused by pretraining).

    Args:
        modality (str, optional): ``'video'`` or ``'image'``; None infers it
            from the mask (3-D tube mask -> video, 2-D block mask -> image).
        meta_keys (Sequence[str]): result keys copied into the metainfo when
            present.
    """

    def __init__(self, modality: Optional[str] = None,
                 meta_keys: Sequence[str] = ('filename', 'img_path', 'img_shape',
                                             'frame_inds', 'flip')) -> None:
        if modality not in (None, 'video', 'image'):
            raise ValueError(f"modality must be 'video', 'image' or None, got {modality!r}")
        self.modality = modality
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Build the packed sample."""
        mask = np.asarray(results['mask'])
        modality = self.modality or ('video' if mask.ndim == 3 else 'image')
        if modality == 'video' and mask.ndim != 3 or modality == 'image' and mask.ndim != 2:
            raise ValueError(f'{modality} sample with a {mask.ndim}-D mask {mask.shape}')
        video = modality == 'video'
        sample = ActionDataSample()
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta['modality'] = modality
        sample.set_metainfo(meta)
        sample.mask = torch.from_numpy(mask.astype(bool, copy=False))
        target_mask = np.asarray(results.get('target_mask', mask))
        if video and target_mask.shape[0] != len(results['imgs']):
            raise ValueError(f'target_mask has {target_mask.shape[0]} temporal positions but the '
                             f'clip has {len(results["imgs"])} frames')
        sample.target_mask = torch.from_numpy(target_mask.astype(bool, copy=False))
        if 'tokenizer_imgs' in results:
            sample.tokenizer_inputs = _frames_to_tensor(results['tokenizer_imgs'], video)
        if 'gt_label' in results:
            sample.set_gt_label(results['gt_label'])
        return dict(inputs=_frames_to_tensor(results['imgs'], video), data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(modality={self.modality}, meta_keys={self.meta_keys})'
