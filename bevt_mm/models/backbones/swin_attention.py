"""Window attention and Swin block for BEVT, on top of MMAction2's Video Swin.

MMAction2's :class:`~mmaction.models.backbones.swin.SwinTransformerBlock3D`
and :class:`~mmaction.models.backbones.swin.WindowAttention3D` are reused
unchanged in their parameters (same state-dict keys); these subclasses only
change the computation:

* attention runs through :func:`torch.nn.functional.scaled_dot_product_attention`
  with the relative position bias and the shifted-window mask as one additive
  float mask (``fused=True``), or the explicit ``softmax(q k^T + bias) v`` form
  (``fused=False``); both give the same result up to float rounding;
* the relative position bias of a window that was shrunk to the feature map
  (``get_window_size``) is looked up as MMAction2 (and the authors' code) do,
  with the first rows of the full window's index, ``index[:N, :N]``
  (``lookup='mmaction'``, the default), so that a BEVT backbone computes what
  a stock MMAction2 recipe computes at every input size. That prefix is the
  window's true offsets when only the temporal size shrinks (e.g. the image
  stream, T'=1: the slice of the table at temporal distance 0), but not when a
  spatial size shrinks (e.g. 160 px or 64 px frames); ``lookup='true_offsets'``
  (opt-in) takes the bias of each pair's real 3D offset there;
* activation checkpointing (``with_cp``) uses the non-reentrant implementation.

The image stream of BEVT is the video stream with one temporal position, so
one copy of this code serves both streams.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as checkpoint
from mmaction.models.backbones.swin import (SwinTransformerBlock3D,
                                            WindowAttention3D,
                                            compute_mask, get_window_size, window_partition,
                                            window_reverse)
from torch import Tensor

#: how the bias of a shrunk window is looked up (see the module docstring)
RELATIVE_BIAS_LOOKUPS = ('mmaction', 'true_offsets')


class BEVTWindowAttention3D(WindowAttention3D):
    """Window attention with relative position bias, fused or explicit.

    Same parameters as :class:`WindowAttention3D`; see the module docstring.

    Args:
        fused (bool): Use ``scaled_dot_product_attention``. Defaults to True.
        lookup (str): Bias of a shrunk window: ``'mmaction'`` (stock
            ``index[:N, :N]``) or ``'true_offsets'``. Defaults to 'mmaction'.
        **kwargs: Arguments of :class:`WindowAttention3D`.
    """

    def __init__(self, *args, fused: bool = True, lookup: str = 'mmaction', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fused = fused
        self.lookup = lookup
        self._index_cache: Dict[Tuple[Tuple[int, ...], torch.device], Tensor] = {}

    def relative_position_bias(self, window_size: Sequence[int]) -> Tensor:
        """Relative position bias of an (effective) window.

        Args:
            window_size (Sequence[int]): Effective window ``(wd, wh, ww)``, each
                at most the configured window size.

        Returns:
            Tensor: Bias of shape ``(num_heads, N, N)``, ``N = wd * wh * ww``;
            ``index[:N, :N]`` of the full window with ``lookup='mmaction'``,
            the window's own offsets with ``'true_offsets'``.
        """
        window_size = tuple(int(w) for w in window_size)
        full = tuple(self.window_size)
        index = self.relative_position_index
        if window_size != full and self.lookup == 'mmaction':
            n = window_size[0] * window_size[1] * window_size[2]
            index = index[:n, :n]
        elif window_size != full:
            key = (window_size, index.device)
            if key not in self._index_cache:
                grid = torch.stack(torch.meshgrid(
                    *[torch.arange(w, device=index.device) for w in window_size],
                    indexing='ij')).flatten(1)  # 3, N
                flat = (grid[0] * full[1] + grid[1]) * full[2] + grid[2]
                self._index_cache[key] = index[flat][:, flat].contiguous()
            index = self._index_cache[key]
        n = index.shape[0]
        bias = self.relative_position_bias_table[index.reshape(-1)]
        return bias.reshape(n, n, -1).permute(2, 0, 1).contiguous()

    def forward(self,
                x: Tensor,
                mask: Optional[Tensor] = None,
                window_size: Optional[Sequence[int]] = None) -> Tensor:
        """Attend within windows.

        Args:
            x (Tensor): Windows of shape ``(B * nW, N, C)``.
            mask (Tensor, optional): Additive shifted-window mask of shape
                ``(nW, N, N)`` (0 or -100). Defaults to None.
            window_size (Sequence[int], optional): Effective window size; None
                means the configured one (or its temporal prefix, as MMAction2).

        Returns:
            Tensor: Output of shape ``(B * nW, N, C)``.
        """
        B_, N, C = x.shape
        if window_size is None:
            hw = self.window_size[1] * self.window_size[2]
            window_size = (N // hw, self.window_size[1], self.window_size[2])
        nh = self.num_heads
        qkv = self.qkv(x).reshape(B_, N, 3, nh, C // nh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # B_, nH, N, d
        # q's dtype, so that SDPA also accepts the float mask under autocast
        bias = self.relative_position_bias(window_size).to(q.dtype)  # nH, N, N
        if mask is not None:
            # windows and heads share one axis, so the (bias + shift mask) of
            # shape (1, nW * nH, N, N) broadcasts over the batch in a 4D call
            # (5D inputs make CPU SDPA fall back to a slow path)
            nw = mask.shape[0]
            attn_bias = (bias.unsqueeze(0) + mask.to(q.dtype).unsqueeze(1)).reshape(
                1, nw * nh, N, N)
            q, k, v = (t.reshape(B_ // nw, nw * nh, N, -1) for t in (q, k, v))
        else:
            attn_bias = bias.unsqueeze(0)
        if self.fused:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_bias,
                dropout_p=self.attn_drop.p if self.training else 0.,
                scale=self.scale)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1) + attn_bias
            attn = self.attn_drop(self.softmax(attn))
            out = attn @ v
        out = out.reshape(B_, nh, N, -1).transpose(1, 2).reshape(B_, N, C)
        return self.proj_drop(self.proj(out))


class BEVTSwinBlock3D(SwinTransformerBlock3D):
    """Swin block that passes the effective window to the attention.

    Same parameters and state-dict keys as :class:`SwinTransformerBlock3D`.
    ``shift_mode='authors'`` reproduces two departures of the authors' BEVT
    image stream from Swin (opt-in, see :class:`BEVTSwinTransformer3D`): the
    shifted-window mask is added in unshifted blocks too, and windows are
    shifted spatially even where the map fits in one window.
    """

    #: shift size of the odd blocks of the stage (for ``shift_mode='authors'``)
    stage_shift: Tuple[int, int, int] = (0, 0, 0)

    def _windows(self, D: int, H: int, W: int, mask_matrix: Optional[Tensor],
                 shift_mode: str, device: torch.device
                 ) -> Tuple[Tuple[int, ...], Tuple[int, ...], Optional[Tensor]]:
        """Effective window, effective shift and the mask to add (or None)."""
        window_size, shift_size = get_window_size(
            (D, H, W), self.window_size, self.shift_size)
        if shift_mode == 'swin':
            return window_size, shift_size, (
                mask_matrix if any(s > 0 for s in shift_size) else None)
        # authors' image stream: odd blocks shift spatially whatever the map
        # size, and every block adds the mask of the stage's shift
        shift = (0, ) + tuple(int(s) for s in self.shift_size[1:])
        stage_shift = (0, ) + tuple(int(s) for s in self.stage_shift[1:])
        pad = [-(-n // w) * w for n, w in zip((D, H, W), window_size)]
        mask = compute_mask(*pad, tuple(window_size), stage_shift, device)
        return window_size, shift, mask

    def forward_part1(self, x: Tensor, mask_matrix: Tensor,
                      shift_mode: str = 'swin') -> Tensor:
        """Window attention on normalized input (see SwinTransformerBlock3D)."""
        B, D, H, W, C = x.shape
        window_size, shift_size, attn_mask = self._windows(
            D, H, W, mask_matrix, shift_mode, x.device)
        x = self.norm1(x)
        pad_d1 = (window_size[0] - D % window_size[0]) % window_size[0]
        pad_b = (window_size[1] - H % window_size[1]) % window_size[1]
        pad_r = (window_size[2] - W % window_size[2]) % window_size[2]
        if pad_d1 or pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b, 0, pad_d1))
        _, Dp, Hp, Wp, _ = x.shape
        shifted = any(i > 0 for i in shift_size)
        if shifted:
            x = torch.roll(x, shifts=tuple(-s for s in shift_size), dims=(1, 2, 3))
        windows = window_partition(x, window_size)
        windows = self.attn(windows, mask=attn_mask, window_size=window_size)
        windows = windows.view(-1, *(tuple(window_size) + (C, )))
        x = window_reverse(windows, window_size, B, Dp, Hp, Wp)
        if shifted:
            x = torch.roll(x, shifts=tuple(shift_size), dims=(1, 2, 3))
        if pad_d1 or pad_b or pad_r:
            x = x[:, :D, :H, :W, :].contiguous()
        return x

    def forward(self, x: Tensor, mask_matrix: Tensor,
                shift_mode: str = 'swin') -> Tensor:
        """Attention and MLP with residuals; ``with_cp`` checkpoints each part.

        Args:
            x (Tensor): Features of shape ``(B, D, H, W, C)``.
            mask_matrix (Tensor): Shifted-window mask of the stage.
            shift_mode (str): ``'swin'`` or ``'authors'`` (class docstring).

        Returns:
            Tensor: Features of shape ``(B, D, H, W, C)``.
        """
        if self.with_cp and x.requires_grad:
            x = x + self.drop_path(checkpoint.checkpoint(
                self.forward_part1, x, mask_matrix, shift_mode,
                use_reentrant=False))
            return x + checkpoint.checkpoint(
                self.forward_part2, x, use_reentrant=False)
        x = x + self.drop_path(self.forward_part1(x, mask_matrix, shift_mode))
        return x + self.forward_part2(x)
