"""A few mixed-precision training steps of a BEVT config, judged.

:func:`amp_training_check` trains the config's model a few steps on one
fixed batch under AMP; :func:`judge_amp_run` states what passed. Details
and how to run it: ``tools/analysis/amp_check.py``.
"""
import contextlib
import math
from typing import Dict, List, Optional, Sequence

import torch

from bevt_mm.analysis.measure import restores_torch_rng
from bevt_mm.analysis.step_setup import build_model_and_optim, make_batch, prepare_config


DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16, 'none': None}


def judge_amp_run(losses: Sequence[float], scales: Sequence[Optional[float]],
                  skipped: Sequence[bool], amp: str) -> Dict:
    """Pass/fail of one run.

    Args:
        losses (Sequence[float]): Loss of each step.
        scales (Sequence[float | None]): Loss scale after each step (None
            without a scaler).
        skipped (Sequence[bool]): Steps whose update the scaler skipped
            (inf/nan gradients: the scale was lowered).
        amp (str): ``fp16``, ``bf16`` or ``none``.

    Returns:
        dict: ``finite`` (every loss), ``falling`` (mean of the last third
        below the first loss), ``scale_ok`` (fp16: the final scale is finite
        and positive and no step in the second half was skipped; others: no
        skipped step), ``passed`` (all three).
    """
    finite = all(math.isfinite(x) for x in losses)
    tail = losses[-max(1, len(losses) // 3):]
    falling = finite and len(losses) > 1 and sum(tail) / len(tail) < losses[0]
    half = len(skipped) // 2
    if amp == 'fp16':
        final = scales[-1] if scales else None
        scale_ok = (final is not None and math.isfinite(final) and final > 0
                    and not any(skipped[half:]))
    else:
        scale_ok = not any(skipped)
    return dict(finite=finite, falling=bool(falling), scale_ok=bool(scale_ok),
                passed=bool(finite and falling and scale_ok))


def _scale(optim) -> Optional[float]:
    scaler = getattr(optim, 'loss_scaler', None)
    return float(scaler.get_scale()) if scaler is not None else None


@restores_torch_rng
def amp_training_check(config: str, amp: str = 'bf16', device: str = 'cpu', iters: int = 10,
                       batch_videos: Optional[int] = None,
                       batch_images: Optional[int] = None, arch=None,
                       frames: Optional[int] = None, size: Optional[int] = None,
                       seed: int = 0) -> Dict:
    """Train ``iters`` steps in ``amp`` and judge them (:func:`judge_amp_run`).

    Args:
        config (str): A BEVT pretraining config (e.g. ``toy_joint_swin.py``).
        amp (str): ``fp16``, ``bf16`` or ``none``.
        device (str): ``cuda`` or ``cpu``.
        iters (int): Steps.
        batch_videos / batch_images / arch / frames / size: Overrides, as in
            ``benchmark.run_benchmark``.
        seed (int): Seed of weights, batch and masks.

    Returns:
        dict: ``amp``, ``wrapper`` (optimizer wrapper class), ``losses``,
        ``loss_scales``, ``skipped``, and :func:`judge_amp_run`'s keys.
    """
    import bevt_mm  # noqa: F401  (registers everything)
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    if amp not in DTYPES:
        raise ValueError(f'amp must be one of {list(DTYPES)}, got {amp!r}')
    torch.manual_seed(seed)
    dev = torch.device(device)
    cfg = prepare_config(config, arch=arch, frames=frames, size=size)
    frames, size = cfg.benchmark_frames, cfg.benchmark_size
    bv = cfg.get('videos_per_gpu', 8) if batch_videos is None else batch_videos
    bi = cfg.get('images_per_gpu', 64) if batch_images is None else batch_images
    view = cfg.get('tokenizer_view_size', 112) * size // cfg.get('crop_size', 224)
    model, optim = build_model_and_optim(cfg, dev, amp)
    batch = make_batch(cfg, bv, bi, frames, size, view, seed)
    outer = (torch.autocast(dev.type, dtype=DTYPES[amp])
             if amp != 'none' and type(optim).__name__ != 'AmpOptimWrapper'
             else contextlib.nullcontext())
    losses: List[float] = []
    scales: List[Optional[float]] = []
    skipped: List[bool] = []
    for _ in range(iters):
        before = _scale(optim)
        with outer:
            log_vars = model.train_step(batch, optim)
        after = _scale(optim)
        losses.append(float(torch.as_tensor(log_vars['loss']).detach()))
        scales.append(after)
        skipped.append(before is not None and after is not None and after < before)
    return dict(amp=amp, device=str(dev), wrapper=type(optim).__name__, iters=iters,
                frames=frames, size=size, batch_videos=bv, batch_images=bi,
                notes=list(cfg.benchmark_notes), losses=losses, loss_scales=scales,
                skipped=skipped, **judge_amp_run(losses, scales, skipped, amp))
