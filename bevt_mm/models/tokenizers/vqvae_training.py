"""Training and evaluation of :class:`VQVAETokenizer` (used by ``tools/train_tokenizer.py``).

The objective is a plain VQ-VAE: L1 reconstruction in the tokenizer's pixel
range + codebook loss + ``beta`` x commitment loss, with straight-through
gradients. Unused codes are restarted from random encoder outputs of the
current batch every ``restart_every`` steps, which keeps the codebook in use
(a common VQ-VAE remedy for dead codes). There is no GAN or perceptual loss
(VQGAN / PeCo add those for sharper decodes; token targets do not need them).
"""
import math
import time
from typing import Callable, Dict, Iterable, Iterator, Optional

import torch
from torch import Tensor

from .vqvae import VQVAETokenizer


@torch.no_grad()
def restart_dead_codes(tokenizer: VQVAETokenizer, usage: Tensor, z: Tensor) -> int:
    """Re-initialize codes with zero ``usage`` from random vectors of ``z``.

    Args:
        tokenizer: the model being trained.
        usage (Tensor): per-code counts since the last restart.
        z (Tensor): pre-quantization vectors ``(N, C, h, w)`` of a batch.

    Returns:
        int: number of codes restarted.
    """
    dead = torch.nonzero(usage == 0).flatten()
    if dead.numel() == 0:
        return 0
    flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
    pick = torch.randint(0, flat.shape[0], (dead.numel(), ), device=flat.device)
    noise = 0.01 * flat.std() * torch.randn(dead.numel(), flat.shape[1], device=flat.device)
    tokenizer.quantize.embedding.weight.data[dead] = flat[pick] + noise
    return int(dead.numel())


def train_vqvae(tokenizer: VQVAETokenizer,
                batches: Iterable[Tensor],
                steps: int,
                lr: float = 2e-3,
                weight_decay: float = 0.0,
                restart_every: int = 50,
                log: Optional[Callable[[str], None]] = None,
                log_every: int = 50,
                on_step: Optional[Callable[[int, Dict[str, Tensor]], None]] = None
                ) -> Dict[str, float]:
    """Train ``tokenizer`` (built with ``with_decoder=True, frozen=False``).

    Args:
        tokenizer: the model.
        batches: endless iterable of uint8 ``(N, 3, H, W)`` batches.
        steps (int): optimizer steps.
        lr (float): AdamW learning rate (cosine decay to 0 after 5% warm-up).
        weight_decay (float): AdamW weight decay.
        restart_every (int): dead-code restart period (0 = never).
        log (callable, optional): receives progress lines.
        log_every (int): steps between progress lines (and after the first).
        on_step (callable, optional): called after every step with the step
            number (1-based) and the step's outputs, e.g. to save or report.

    Returns:
        dict: last ``loss_rec`` and ``loss_vq``, the number of restarted codes
        and ``step_losses`` (``loss_rec`` of every step).
    """
    if tokenizer.frozen or not tokenizer.with_decoder:
        raise ValueError(
            'build the VQVAETokenizer with with_decoder=True, frozen=False to train it')
    tokenizer.train()
    params = [p for p in tokenizer.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=weight_decay)
    warmup = max(1, steps // 20)

    def lr_factor(s: int) -> float:
        return min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor)
    usage = torch.zeros(tokenizer.vocab_size, device=next(tokenizer.parameters()).device)
    restarted = 0
    step_losses = []
    out: Dict[str, Tensor] = {}
    start = time.monotonic()
    it: Iterator[Tensor] = iter(batches)
    for step in range(1, steps + 1):
        x = next(it).to(usage.device)
        out = tokenizer.forward_train(x)
        loss = out['loss_rec'] + out['loss_vq']
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        step_losses.append(out['loss_rec'].item())
        usage += torch.bincount(out['ids'].flatten(), minlength=tokenizer.vocab_size)
        if restart_every and step % restart_every == 0 and step < 0.9 * steps:
            restarted += restart_dead_codes(tokenizer, usage, out['z'].detach())
            usage.zero_()
        if log is not None and (step == 1 or step % log_every == 0 or step == steps):
            log(f'step {step}/{steps}: loss_rec {out["loss_rec"].item():.4f} '
                f'loss_vq {out["loss_vq"].item():.4f} lr {sched.get_last_lr()[0]:.2e} '
                f'codes restarted {restarted} ({progress(step, steps, start)})')
        if on_step is not None:
            on_step(step, out)
    tokenizer.train(False)
    return dict(loss_rec=out['loss_rec'].item(), loss_vq=out['loss_vq'].item(),
                codes_restarted=float(restarted), step_losses=step_losses)


def progress(step: int, steps: int, start: float) -> str:
    """``'<s> s/step, about <t> left'`` after ``step`` of ``steps`` steps begun at
    ``start`` (``time.monotonic()``)."""
    per_step = (time.monotonic() - start) / max(step, 1)
    left = per_step * (steps - step)
    left = f'{left:.0f} s' if left < 120 else (f'{left / 60:.1f} min' if left < 7200
                                               else f'{left / 3600:.1f} h')
    return f'{per_step:.2f} s/step, about {left} left'


@torch.no_grad()
def evaluate_vqvae(tokenizer: VQVAETokenizer, images: Tensor,
                   batch_size: int = 64) -> Dict[str, float]:
    """Reconstruction error and codebook usage on held-out images.

    Args:
        tokenizer: a model with a decoder.
        images (Tensor): uint8 ``(N, 3, H, W)``.
        batch_size (int): images per forward.

    Returns:
        dict: ``mse`` of ``decode(tokenize(x))`` against ``x`` in ``[0, 1]``
        pixels, ``mean_image_mse`` (predicting the per-pixel mean of
        ``images``), ``psnr``, ``codebook_usage`` (fraction of codes used),
        ``codes_used`` and ``perplexity`` of the token distribution.
    """
    was_training = tokenizer.training
    tokenizer.train(False)
    device = next(tokenizer.parameters()).device
    images = images.to(device)
    x = images.float() / 255.
    errors, counts = [], torch.zeros(tokenizer.vocab_size, device=device)
    for chunk in images.split(batch_size):
        ids = tokenizer(chunk)
        rec = tokenizer.decode(ids).float() / 255.
        errors.append(((rec - chunk.float() / 255.)**2).flatten(1).mean(1))
        counts += torch.bincount(ids.flatten(), minlength=tokenizer.vocab_size)
    mse = torch.cat(errors).mean().item()
    mean_mse = ((x - x.mean(0, keepdim=True))**2).mean().item()
    prob = counts / counts.sum()
    entropy = -(prob[prob > 0] * prob[prob > 0].log()).sum().item()
    tokenizer.train(was_training)
    return dict(mse=mse, mean_image_mse=mean_mse, psnr=10 * math.log10(1 / max(mse, 1e-12)),
                codes_used=float((counts > 0).sum().item()),
                codebook_usage=float((counts > 0).float().mean().item()),
                perplexity=math.exp(entropy))
