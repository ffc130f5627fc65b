"""Window attention through SDPA against the explicit form, on any device.

:func:`window_attention_check` compares the outputs and gradients of one
:class:`BEVTWindowAttention3D` computed both ways; :func:`sdpa_backends`
records which SDPA backends run; :func:`attention_compare` times both forms
on every stage of a built model. How to run it:
``tools/analysis/attention_check.py``.
"""
import contextlib
import math
import statistics
from typing import Dict, List, Optional, Sequence

import torch

import bevt_mm  # noqa: F401  (crash fixes before MMAction2's models)
from bevt_mm.models.backbones.swin_attention import BEVTWindowAttention3D
from mmaction.models.backbones.swin import compute_mask

from bevt_mm.analysis.measure import autocast, restores_torch_rng, round_robin


#: max |SDPA - explicit| / max |explicit| allowed, per compute dtype (fp16 and
#: bf16 keep 11 and 8 mantissa bits; both forms round differently)
TOLERANCES = {'float32': 1e-4, 'float16': 1e-2, 'bfloat16': 5e-2}
#: aten ops that name the SDPA implementation that ran
SDPA_OPS = {
    '_scaled_dot_product_flash_attention': 'flash',
    '_scaled_dot_product_flash_attention_for_cpu': 'flash (cpu)',
    '_scaled_dot_product_efficient_attention': 'efficient',
    '_scaled_dot_product_cudnn_attention': 'cudnn',
    '_scaled_dot_product_attention_math': 'math',
}


def _autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@restores_torch_rng
def make_attention(window: Sequence[int], dim: int, num_heads: int, device: torch.device,
                   seed: int = 0) -> BEVTWindowAttention3D:
    """A window attention with a random (std 1) relative position bias table.

    Args:
        window (Sequence[int]): ``(Wd, Wh, Ww)``.
        dim (int): Channels.
        num_heads (int): Attention heads.
        device (torch.device): Where to put it.
        seed (int): Seed of the weights and the table. Defaults to 0.

    Returns:
        BEVTWindowAttention3D: In train mode on ``device``.
    """
    torch.manual_seed(seed)
    attn = BEVTWindowAttention3D(dim, tuple(window), num_heads, qkv_bias=True)
    with torch.no_grad():
        attn.relative_position_bias_table.normal_()
    return attn.to(device).train()


def _inputs(attn, window, windows, shifted, device, seed):
    g = torch.Generator(device='cpu').manual_seed(seed)
    n = window[0] * window[1] * window[2]
    x = torch.randn(windows, n, attn.qkv.in_features, generator=g).to(device)
    mask = None
    if shifted:  # a 2x2x2-window map shifted by half a window: every mask pattern
        grid = [w * 2 for w in window]
        mask = compute_mask(*grid, tuple(window), tuple(w // 2 for w in window), device)
        x = x[:windows - windows % mask.shape[0] or mask.shape[0]]
    return x, mask


def _run(attn, x, mask, window, fused, device, dtype):
    attn.fused = fused
    attn.zero_grad(set_to_none=True)
    xx = x.detach().clone().requires_grad_(True)
    with _autocast(device, dtype):
        out = attn(xx, mask=mask, window_size=tuple(window))
    out.float().pow(2).sum().backward()
    return dict(out=out.detach().float(), grad_x=xx.grad.float(),
                grad_qkv=attn.qkv.weight.grad.float(),
                grad_bias_table=attn.relative_position_bias_table.grad.float())


def window_attention_check(window: Sequence[int], dim: int = 128, num_heads: int = 4,
                           windows: int = 64, shifted: bool = True,
                           device: str = 'cpu', dtype: torch.dtype = torch.float32,
                           seed: int = 0) -> Dict:
    """Compare SDPA and explicit window attention (forward and backward).

    Args:
        window (Sequence[int]): ``(wd, wh, ww)``, e.g. the recipe's 8x7x7.
        dim (int): Channels (Swin-B stage 0: 128).
        num_heads (int): Heads (Swin-B stage 0: 4).
        windows (int): Windows in the batch (rounded to the shift mask's 8).
        shifted (bool): Add the shifted-window mask.
        device (str): Device.
        dtype (torch.dtype): Compute dtype: float32, or float16/bfloat16 autocast.
        seed (int): Seed of weights and inputs.

    Returns:
        dict: ``window``, ``tokens``, ``dtype``, ``rel_diff`` (max abs
        difference over the explicit form's max abs value, for ``out``,
        ``grad_x``, ``grad_qkv``, ``grad_bias_table``), ``tolerance``,
        ``passed`` and ``backends`` (:func:`sdpa_backends`).
    """
    dev = torch.device(device)
    attn = make_attention(window, dim, num_heads, dev, seed)
    x, mask = _inputs(attn, window, windows, shifted, dev, seed)
    prev_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # compare in full fp32
    try:
        ref = _run(attn, x, mask, window, False, dev, dtype)
        got = _run(attn, x, mask, window, True, dev, dtype)
        backends = sdpa_backends(attn, x, mask, window, dev, dtype)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev_tf32
        attn.fused = True
    rel = {k: float((got[k] - ref[k]).abs().max() / ref[k].abs().max().clamp_min(1e-12))
           for k in ref}
    name = str(dtype).replace('torch.', '')
    tol = TOLERANCES[name]
    return dict(window=list(window), tokens=x.shape[1], windows=x.shape[0], dim=dim,
                heads=num_heads, shifted=mask is not None, dtype=name, rel_diff=rel,
                tolerance=tol, passed=all(v <= tol for v in rel.values()),
                backends=backends)


def _ops_that_ran(fn) -> List[str]:
    """SDPA implementations dispatched while ``fn`` runs (``math`` when no
    fused kernel is seen: the math path decomposes before dispatch)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    seen = set()

    class Record(TorchDispatchMode):

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.add(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    with Record():
        fn()
    fused = sorted({v for k, v in SDPA_OPS.items() if k in seen})
    return fused or ['math']


def sdpa_backends(attn: BEVTWindowAttention3D, x: torch.Tensor, mask: Optional[torch.Tensor],
                  window: Sequence[int], device: torch.device, dtype: torch.dtype) -> Dict:
    """Which SDPA kernels run this attention (forward + backward).

    Args:
        attn (BEVTWindowAttention3D): The attention (run with ``fused=True``).
        x (Tensor): ``(windows, N, C)`` window tokens, ``N = Wd*Wh*Ww``.
        mask (Tensor, optional): ``(nW, N, N)`` shift mask, or None.
        window (Sequence[int]): ``(Wd, Wh, Ww)``.
        device (torch.device): Where it runs.
        dtype (torch.dtype): Autocast dtype (``torch.float32``: none).

    Returns:
        dict: ``default`` (kernels seen by the profiler with every backend
        allowed) and ``each``: backend name -> ``'ok'`` or the error of
        running with only that backend allowed.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel
    attn.fused = True

    def once():
        _run(attn, x, mask, window, True, device, dtype)

    out = dict(default=_ops_that_ran(once), each={})
    for name in ('FLASH_ATTENTION', 'EFFICIENT_ATTENTION', 'CUDNN_ATTENTION', 'MATH'):
        backend = getattr(SDPBackend, name, None)
        if backend is None:
            continue
        try:
            with sdpa_kernel([backend]):
                once()
            out['each'][name.lower()] = 'ok'
        except RuntimeError as err:
            out['each'][name.lower()] = str(err).strip().splitlines()[0][:160]
    return out


def attention_compare(model, frames: int, size: int, batch: int, device: torch.device,
                      amp: str, warmup: int, iters: int) -> List[Dict]:
    """SDPA vs explicit window attention of each stage's shifted block (fwd+bwd).

    Runs the first shifted block's attention of every stage (with its bias
    and shift mask) on random windows shaped as the benchmarked video clip
    makes them; reports the times, the speed-up and the max abs difference.

    Args:
        model: A built BEVT model with a Swin backbone (``model.backbone``).
        frames (int): Clip length of the benchmarked clip.
        size (int): Its height and width in pixels.
        batch (int): Clips per batch.
        device (torch.device): Where it runs.
        amp (str): ``'none'``, ``'fp16'`` or ``'bf16'`` autocast.
        warmup (int): Untimed calls of each form.
        iters (int): Timed calls of each form.

    Returns:
        list[dict]: One row per stage: window and shapes, median
        ``explicit_ms`` / ``sdpa_ms``, ``speedup`` and ``max_abs_diff``.
    """
    from mmaction.models.backbones.swin import compute_mask, get_window_size
    bb = model.backbone
    grid = [-(-frames // bb.patch_size[0]), size // bb.patch_size[1], size // bb.patch_size[2]]
    rows = []
    c = bb.embed_dims
    for i, layer in enumerate(bb.layers):
        block = layer.blocks[1] if len(layer.blocks) > 1 else layer.blocks[0]
        attn = block.attn
        ws, ss = get_window_size(tuple(grid), layer.window_size, layer.shift_size)
        padded = [-(-g // w) * w for g, w in zip(grid, ws)]
        mask = compute_mask(*padded, tuple(ws), tuple(ss), device)
        n = ws[0] * ws[1] * ws[2]
        nw = math.prod(p // w for p, w in zip(padded, ws))
        x = torch.randn(batch * nw, n, c, device=device)
        msk = mask if any(s > 0 for s in ss) else None
        outs, fns = {}, {}
        fused0 = attn.fused
        for fused in (False, True):
            def fn(fused=fused):
                attn.fused = fused
                xx = x.detach().requires_grad_(True)
                with autocast(device, amp):
                    out = attn(xx, mask=msk, window_size=ws)
                out.float().sum().backward()
                outs[fused] = out.detach().float()
            fns['sdpa' if fused else 'explicit'] = fn
        times = round_robin(fns, warmup, iters, device)
        attn.fused = fused0
        attn.zero_grad(set_to_none=True)
        exp_t, sdpa_t = (statistics.median(times[k]) for k in ('explicit', 'sdpa'))
        rows.append(dict(stage=i, windows=batch * nw, window=list(ws), tokens=n,
                         heads=attn.num_heads, dim=c, shifted=msk is not None,
                         explicit_ms=exp_t * 1e3, sdpa_ms=sdpa_t * 1e3,
                         speedup=exp_t / sdpa_t,
                         max_abs_diff=float((outs[True] - outs[False]).abs().max())))
        if layer.downsample is not None:
            grid = [grid[0], -(-grid[1] // 2), -(-grid[2] // 2)]
            c *= 2
    return rows
