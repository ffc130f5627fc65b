"""BEVT's light decoders: stage-4 features upsampled, fused with stage 3.

Both take the un-normalized, channels-last stage-3 and stage-4 features of
:meth:`BEVTSwinTransformer3D.forward_pretrain` and return channels-last
features at the token-target resolution (before the decoder norm), either on
the whole grid or only at the masked target positions (the loss reads no
other position, and every decoded position depends only on its own stage-3
token and its stage-4 parent, so the masked-only result is the same
function).

The transposed convolutions have kernel == stride, so each output position
is one input position times one ``C_in x C_out`` slice of the weight: they
are computed as one ``F.linear`` with the ``nn.ConvTranspose`` weight viewed
as ``(prod(kernel) * C_out, C_in)``, followed by a reshape. Parameters and
checkpoint keys stay those of the ``nn.ConvTranspose`` modules.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

ConvT = nn.modules.conv._ConvTransposeNd


def _linear_weight(conv: ConvT) -> Tuple[Tensor, Optional[Tensor], Tuple[int, ...]]:
    """The transposed conv as ``F.linear`` arguments.

    Returns:
        tuple: weight ``(K * C_out, C_in)`` with rows ordered (kernel offset
        row-major, output channel), bias ``(K * C_out, )`` or None, and the
        kernel size (``K`` = its product).

    Raises:
        ValueError: if the conv is not a plain kernel == stride upsampling.
    """
    k = tuple(conv.kernel_size)
    if (tuple(conv.stride) != k or any(conv.padding) or any(conv.output_padding)
            or conv.groups != 1 or any(d != 1 for d in conv.dilation)):
        raise ValueError(f'{type(conv).__name__}: only kernel == stride, no padding, groups 1 '
                         f'and dilation 1 are a linear layer (kernel {k}, stride {conv.stride})')
    c_in, c_out = conv.weight.shape[:2]
    dims = len(k)
    weight = conv.weight.permute(*range(2, 2 + dims), 1, 0).reshape(-1, c_in)
    bias = None if conv.bias is None else conv.bias.repeat(math.prod(k))
    return weight, bias, k


def upsample(x: Tensor, conv: ConvT) -> Tensor:
    """A kernel == stride transposed conv on channels-last input.

    Args:
        x (Tensor): ``(N, *grid, C_in)``.
        conv (nn.ConvTranspose2d | nn.ConvTranspose3d): Its weight and bias.

    Returns:
        Tensor: ``(N, *(grid * kernel), C_out)``, equal (allclose) to the
        conv on the channels-first view.
    """
    weight, bias, k = _linear_weight(conv)
    n, grid, dims = x.shape[0], x.shape[1:-1], len(k)
    y = F.linear(x, weight, bias).view(n, *grid, *k, -1)
    # (N, g0.., k0.., C) -> (N, g0, k0, g1, k1, .., C)
    order = [0] + [d for i in range(dims) for d in (1 + i, 1 + dims + i)] + [1 + 2 * dims]
    return y.permute(order).reshape(n, *(g * kk for g, kk in zip(grid, k)), y.shape[-1])


def parent_mask(mask: Tensor, kernel: Sequence[int]) -> Tensor:
    """Input positions of a kernel == stride upsampling with any True output.

    Args:
        mask (Tensor): Bool ``(N, *out_grid)``; each size divisible by ``kernel``.
        kernel (Sequence[int]): The upsampling factors.

    Returns:
        Tensor: Bool ``(N, *(out_grid // kernel))``.
    """
    grid = [g // k for g, k in zip(mask.shape[1:], kernel)]
    view = mask.reshape(mask.shape[0], *[v for g, k in zip(grid, kernel) for v in (g, k)])
    return view.any(dim=tuple(range(2, 2 * len(kernel) + 1, 2)))


def upsample_at(values: Tensor, value_mask: Tensor, conv: ConvT, out_mask: Tensor) -> Tensor:
    """A kernel == stride transposed conv at the True positions of ``out_mask`` only.

    Args:
        values (Tensor): ``(P, C_in)``, the input at the True positions of
            ``value_mask`` in row-major order (``x[value_mask]``).
        value_mask (Tensor): Bool ``(N, *grid)``; must contain
            ``parent_mask(out_mask, kernel)``.
        conv (nn.ConvTranspose2d | nn.ConvTranspose3d): Its weight and bias.
        out_mask (Tensor): Bool ``(N, *(grid * kernel))``.

    Returns:
        Tensor: ``(M, C_out)``, equal (allclose) to ``upsample(x, conv)[out_mask]``.
    """
    weight, bias, k = _linear_weight(conv)
    y = F.linear(values, weight, bias)  # (P, K * C_out), rows (kernel offset, channel)
    row = torch.full(value_mask.shape, -1, dtype=torch.long, device=values.device)
    row[value_mask] = torch.arange(values.shape[0], device=values.device)
    idx = out_mask.nonzero(as_tuple=True)
    parent = row[(idx[0], ) + tuple(i // kk for i, kk in zip(idx[1:], k))]
    child = torch.zeros_like(parent)
    for i, kk in zip(idx[1:], k):
        child = child * kk + i % kk
    return y.reshape(-1, conv.weight.shape[1])[parent * math.prod(k) + child]


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

    def forward(self, stage3: Tensor, stage4: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Decode ``(N, h, w, C/2)`` and ``(N, h/2, w/2, C)``.

        Returns:
            Tensor: ``(N, h, w, C)``; with a bool ``mask`` ``(N, h, w)``
            only its True positions, ``(M, C)`` in row-major order.
        """
        if mask is None:
            return self.proj(torch.cat([stage3, upsample(stage4, self.upsample)], dim=-1))
        parents = parent_mask(mask, (2, 2))
        up = upsample_at(stage4[parents], parents, self.upsample, mask)
        return self.proj(torch.cat([stage3[mask], up], dim=-1))


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
        self.temporal_scale = temporal_scale
        self.upsample_spatial = nn.ConvTranspose3d(
            in_channels, in_channels, (1, 2, 2), stride=(1, 2, 2))
        self.proj = nn.Linear(in_channels + skip_channels, in_channels)
        self.upsample_temporal = nn.ConvTranspose3d(
            in_channels, in_channels, (temporal_scale, 1, 1),
            stride=(temporal_scale, 1, 1))

    def forward(self, stage3: Tensor, stage4: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Decode ``(N, t, h, w, C/2)`` and ``(N, t, h/2, w/2, C)``.

        Returns:
            Tensor: ``(N, t * temporal_scale, h, w, C)``; with a bool
            ``mask`` of that grid only its True positions, ``(M, C)`` in
            row-major order (the fusion runs only where a child is masked).
        """
        if mask is None:
            up = upsample(stage4, self.upsample_spatial)
            return upsample(self.proj(torch.cat([stage3, up], dim=-1)), self.upsample_temporal)
        fused = parent_mask(mask, (self.temporal_scale, 1, 1))
        parents = parent_mask(fused, (1, 2, 2))
        up = upsample_at(stage4[parents], parents, self.upsample_spatial, fused)
        x = self.proj(torch.cat([stage3[fused], up], dim=-1))
        return upsample_at(x, fused, self.upsample_temporal, mask)


__all__ = ['ImageDecoder', 'VideoDecoder', 'parent_mask', 'upsample', 'upsample_at']
