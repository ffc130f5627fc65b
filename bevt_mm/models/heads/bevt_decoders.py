"""BEVT's light decoders: stage-4 features upsampled, fused with stage 3.

Both take the un-normalized, channels-last stage-3 and stage-4 features of
:meth:`BEVTSwinTransformer3D.forward_pretrain` and return channels-last
features at the token-target resolution (before the decoder norm).
"""
from typing import Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn


class ImageDecoder(BaseModule):
    """2x spatial transposed conv on stage 4, concat (stage 3 first), linear.

    Args:
        in_channels (int): Stage-4 channels C (also the output channels).
        skip_channels (int): Stage-3 channels (C // 2 in Swin).
    """

    def __init__(self, in_channels: int, skip_channels: int) -> None:
        super().__init__()
        self.upsample = nn.ConvTranspose2d(in_channels, in_channels, 2, stride=2)
        self.proj = nn.Linear(in_channels + skip_channels, in_channels)

    def forward(self, stage3: Tensor, stage4: Tensor) -> Tensor:
        """Decode ``(N, h, w, C/2)`` and ``(N, h/2, w/2, C)`` into ``(N, h, w, C)``."""
        up = self.upsample(stage4.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.proj(torch.cat([stage3, up], dim=-1))


class VideoDecoder(BaseModule):
    """Spatial transposed conv, concat (stage 3 first), linear, temporal transposed conv.

    Args:
        in_channels (int): Stage-4 channels C (also the output channels).
        skip_channels (int): Stage-3 channels.
        temporal_scale (int): Temporal upsampling (the tubelet size).
            Defaults to 2.
    """

    def __init__(self, in_channels: int, skip_channels: int,
                 temporal_scale: int = 2) -> None:
        super().__init__()
        self.upsample_spatial = nn.ConvTranspose3d(
            in_channels, in_channels, (1, 2, 2), stride=(1, 2, 2))
        self.proj = nn.Linear(in_channels + skip_channels, in_channels)
        self.upsample_temporal = nn.ConvTranspose3d(
            in_channels, in_channels, (temporal_scale, 1, 1),
            stride=(temporal_scale, 1, 1))

    def forward(self, stage3: Tensor, stage4: Tensor) -> Tensor:
        """Decode ``(N, t, h, w, C/2)``, ``(N, t, h/2, w/2, C)`` into
        ``(N, t * temporal_scale, h, w, C)``."""
        up = self.upsample_spatial(stage4.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
        x = self.proj(torch.cat([stage3, up], dim=-1))
        x = self.upsample_temporal(x.permute(0, 4, 1, 2, 3))
        return x.permute(0, 2, 3, 4, 1)


def flatten_tokens(x: Tensor) -> Tensor:
    """``(N, ..., C)`` -> ``(N, L, C)`` in row-major (t, h, w) token order."""
    return x.reshape(x.shape[0], -1, x.shape[-1])


__all__: Sequence[str] = ['ImageDecoder', 'VideoDecoder', 'flatten_tokens']
