"""Pooled frozen-encoder features of a labeled video list.

The features of a clip are the encoder's last-stage feature map averaged over
time and space (the input of MMAction2's ``I3DHead``), averaged again over
the clips of a sample when the test pipeline takes several. Two encoders:

* :func:`recognizer_features`: an MMAction2 recognizer (``extract_feat(...,
  stage='backbone')``), i.e. the frozen backbone a fine-tuning would start from;
* :func:`bevt_features`: the encoder inside a ``BEVT`` pretraining model
  (``backbone.forward_pretrain`` without a mask, then the decoder norm, which is
  what ``bevt_to_mmaction_swin`` exports as the recognizer's final norm), so a
  pretraining run can be probed without exporting.
"""
import copy
from typing import Callable, Dict, Tuple

import torch
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

#: the clips the toy pretraining sees (toy_joint_swin.py: 8 frames, interval 2, 64 px),
#: deterministic: the default probe pipeline of ProbeHook and of the toy ablation
TOY_PRETRAIN_CLIP = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

#: maps a collated batch (``inputs`` list, ``data_samples`` list) to ``(N, C)`` features
Encoder = Callable[[Dict], Tensor]


def build_probe_loader(dataset: Dict, batch_size: int = 8) -> DataLoader:
    """A sequential, worker-free loader over an MMAction2 dataset config.

    A ``VideoDataset`` is built as ``RobustVideoDataset``, and unreadable
    clips (truncated downloads, files without a video stream ...) are left
    out of the features, warned about once per file and counted
    (``loader.dataset.dataset.num_failed``), as in training; a probe set with
    a bad file must not stop a pretraining run at its probe step.

    Args:
        dataset (dict): Dataset config (``type``, ``ann_file``,
            ``data_prefix``, ``pipeline``; optional ``indices`` to take the
            first N samples). Built with mmaction's ``DATASETS``.
        batch_size (int): Samples per forward pass.

    Returns:
        DataLoader: No shuffling, no workers, mmengine's ``pseudo_collate`` of
        the readable samples of each batch.
    """
    from mmaction.registry import DATASETS

    from ..datasets.robust import RobustLoadingMixin
    cfg = copy.deepcopy(dataset)
    if cfg.get('type') == 'VideoDataset':
        cfg['type'] = 'RobustVideoDataset'
    dataset = DATASETS.build(cfg)
    if len(dataset) == 0:
        raise ValueError(f'probe dataset {getattr(dataset, "ann_file", dataset)!r} is empty')
    if isinstance(dataset, RobustLoadingMixin):
        dataset = _ReadableSamples(dataset)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0,
                      collate_fn=_collate_readable)


class _ReadableSamples(Dataset):
    """Sample ``i`` of a robust dataset, or None where its file is unreadable."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        return self.dataset.prepare_data(idx)  # None on a file fault (logged, counted)


def _collate_readable(batch):
    readable = [s for s in batch if s is not None]
    return pseudo_collate(readable) if readable else {}


def pool(x: Tensor) -> Tensor:
    """``(N, C, ...)`` -> ``(N, C)``: mean over every axis after the channels."""
    return x.flatten(2).mean(2) if x.dim() > 2 else x


def _labels(batch: Dict) -> Tensor:
    return torch.stack([torch.as_tensor(s.gt_label).reshape(-1)[0]
                        for s in batch['data_samples']]).long()


def recognizer_features(model: torch.nn.Module) -> Encoder:
    """Encoder of an MMAction2 recognizer: its preprocessor and backbone, pooled."""
    def encode(batch: Dict) -> Tensor:
        data = model.data_preprocessor(batch, False)
        inputs = data['inputs']
        num = inputs.shape[0]
        feats, _ = model.extract_feat(inputs, stage='backbone')
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        return pool(feats).reshape(num, -1, pool(feats).shape[-1]).mean(1)
    return encode


def bevt_features(model: torch.nn.Module) -> Encoder:
    """Encoder of a ``BEVT`` pretraining model on video batches.

    The batch holds ``PackActionInputs`` clips ``(clips, C, T, H, W)`` (uint8
    or float, 0-255); they are normalized with the model's video mean/std.
    The last features of ``backbone.forward_pretrain`` (stage 4 of Swin, the
    patch tokens of TimeSformer) pass through the decoder norm (``head.norm``, or
    ``head.video_norm`` with separate norms) when the head has one.
    """
    head = getattr(model, 'head', None)
    norm = getattr(head, 'norm', None) or getattr(head, 'video_norm', None)
    device = next(model.parameters()).device

    def encode(batch: Dict) -> Tensor:
        inputs = torch.stack(list(batch['inputs']))
        num = inputs.shape[0]
        x = inputs.flatten(0, 1).to(device) if inputs.dim() == 6 else inputs.to(device)
        x = model.data_preprocessor.normalize(x, 'video')
        stage4 = model.backbone.forward_pretrain(x)  # (N, T, H, W, C), channels last
        if isinstance(stage4, (tuple, list)):  # Swin: (stage 3, stage 4)
            stage4 = stage4[-1]
        if norm is not None:
            stage4 = norm(stage4)
        feats = stage4.flatten(1, -2).mean(1)
        return feats.reshape(num, -1, feats.shape[-1]).mean(1)
    return encode


@torch.no_grad()
def extract_features(encode: Encoder, loader: DataLoader,
                     progress: bool = True) -> Tuple[Tensor, Tensor]:
    """Features and labels of every sample of ``loader``.

    Args:
        encode (Encoder): Batch -> ``(N, C)``; see :func:`recognizer_features`.
        loader (DataLoader): From :func:`build_probe_loader`.
        progress (bool): Show mmengine's ``ProgressBar`` (samples).

    Returns:
        tuple[Tensor, Tensor]: ``(N, C)`` float32 features (CPU) and ``(N,)`` labels.
    """
    bar = ProgressBar(len(loader.dataset)) if progress else None
    feats, labels = [], []
    for batch in loader:
        if not batch:  # every clip of the batch was unreadable
            continue
        feats.append(encode(batch).float().cpu())
        labels.append(_labels(batch))
        if bar is not None:
            for _ in range(len(labels[-1])):
                bar.update()
    if bar is not None:
        print(flush=True)
    return torch.cat(feats), torch.cat(labels)
