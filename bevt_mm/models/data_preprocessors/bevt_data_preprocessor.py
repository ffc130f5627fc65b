"""``BEVTDataPreprocessor``: split a mixed image/video batch into two streams."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import BaseDataElement
from torch import Tensor

MODALITIES = ('image', 'video')
#: per-sample tensor fields of ``data_samples`` stacked into each stream
STREAM_FIELDS = ('mask', 'target_mask', 'tokenizer_inputs')


def sample_modality(sample: Optional[BaseDataElement], inputs: Tensor) -> str:
    """``metainfo['modality']`` of a sample, else ``'image'`` for 3D inputs
    ``(C, H, W)`` and ``'video'`` for 4D ones ``(C, T, H, W)``."""
    modality = sample.metainfo.get('modality') if sample is not None else None
    if modality is None:
        modality = 'image' if inputs.dim() == 3 else 'video'
    if modality not in MODALITIES:
        raise ValueError(f"modality must be 'image' or 'video', got {modality!r}")
    return modality


def stack_field(samples: Sequence[BaseDataElement], field: str) -> Optional[Tensor]:
    """Stack one tensor field of the samples; None if no sample has it."""
    if not samples or field not in samples[0]:
        return None
    return torch.stack([torch.as_tensor(s.get(field)) for s in samples])


@MODELS.register_module()
class BEVTDataPreprocessor(BaseDataPreprocessor):
    """Normalize and stack images and videos of a batch, per modality.

    Accepts ``dict(inputs=list[Tensor], data_samples=list[ActionDataSample])``
    from ``pseudo_collate`` in any mix of modalities (uint8 images
    ``(C, H, W)`` and videos ``(C, T, H, W)``; ``metainfo['modality']``, or
    the number of dimensions, says which), or already stacked tensors.

    Returns ``dict(inputs=dict(image=stream | None, video=stream | None),
    data_samples=list)`` where each stream is a dict with ``inputs`` (float,
    normalized, ``(N, C, H, W)`` / ``(N, C, T, H, W)``), the stacked sample
    fields ``mask``, ``target_mask`` and ``tokenizer_inputs`` (kept in their
    dtype; the tokenizer maps pixels itself), and ``data_samples`` (that
    stream's samples, in batch order).

    Args:
        mean (Sequence[float]): Per-channel mean (0-255 scale).
            Defaults to ImageNet's.
        std (Sequence[float]): Per-channel std. Defaults to ImageNet's.
        image_mean (Sequence[float], optional): Mean for images if it
            differs from ``mean``. Defaults to None.
        image_std (Sequence[float], optional): Std for images. Defaults to None.
        non_blocking (bool): Non-blocking device copies. Defaults to False.
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 image_mean: Optional[Sequence[float]] = None,
                 image_std: Optional[Sequence[float]] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.register_buffer('video_mean', torch.tensor(mean, dtype=torch.float32), False)
        self.register_buffer('video_std', torch.tensor(std, dtype=torch.float32), False)
        self.register_buffer('image_mean', torch.tensor(
            image_mean if image_mean is not None else mean, dtype=torch.float32), False)
        self.register_buffer('image_std', torch.tensor(
            image_std if image_std is not None else std, dtype=torch.float32), False)

    def normalize(self, x: Tensor, modality: str) -> Tensor:
        """Float ``(x - mean) / std`` over the channel axis (dim 1)."""
        mean = getattr(self, f'{modality}_mean')
        std = getattr(self, f'{modality}_std')
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        return (x.float() - mean.view(shape)) / std.view(shape)

    def forward(self, data: Dict, training: bool = False) -> Dict:
        """Split, normalize and stack; see the class docstring.

        Args:
            data (dict): ``inputs`` and optional ``data_samples``.
            training (bool): Unused (no batch augmentation).

        Returns:
            dict: ``inputs`` (dict of the two streams) and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs: Union[Tensor, List[Tensor]] = data['inputs']
        samples = data.get('data_samples')
        if isinstance(inputs, Tensor):
            inputs = list(inputs)
        if samples is None:
            samples = [None] * len(inputs)
        if len(samples) != len(inputs):
            raise ValueError(f'{len(inputs)} inputs but {len(samples)} data_samples')
        groups: Dict[str, List[int]] = {m: [] for m in MODALITIES}
        for i, (x, s) in enumerate(zip(inputs, samples)):
            groups[sample_modality(s, x)].append(i)
        streams: Dict[str, Optional[Dict]] = {}
        for modality, index in groups.items():
            if not index:
                streams[modality] = None
                continue
            stream_samples = [samples[i] for i in index]
            stream = dict(inputs=self.normalize(
                torch.stack([inputs[i] for i in index]), modality))
            if stream_samples[0] is not None:
                for field in STREAM_FIELDS:
                    stream[field] = stack_field(stream_samples, field)
            stream['data_samples'] = stream_samples
            streams[modality] = stream
        return dict(inputs=streams, data_samples=data.get('data_samples'))
