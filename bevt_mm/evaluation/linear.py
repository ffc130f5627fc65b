"""Linear probe: a linear classifier trained on standardized frozen features.

Fixed small schedule so that numbers compare across checkpoints: features are
standardized with the training set's per-dimension mean and std, then one
``nn.Linear`` is trained full-batch with AdamW (lr 0.01, weight decay 1e-4,
300 steps, cross-entropy), from a seeded initialization. Full-batch steps
make the result independent of data order; the seed fixes the initial
weights. (A few hundred to a few thousand samples of a few hundred
dimensions: a full batch is milliseconds per step on a CPU.)
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: the fixed schedule (see the module docstring)
LINEAR_STEPS = 300
LINEAR_LR = 0.01
LINEAR_WEIGHT_DECAY = 1e-4


def standardize(train: Tensor, *others: Tensor, eps: float = 1e-6) -> Tuple[Tensor, ...]:
    """``(x - mean) / std`` with the per-dimension statistics of ``train``."""
    mean = train.mean(0, keepdim=True)
    std = train.std(0, unbiased=False, keepdim=True).clamp_min(eps)
    return tuple((x - mean) / std for x in (train, *others))


def train_linear_probe(train_feats: Tensor, train_labels: Tensor,
                       num_classes: Optional[int] = None, steps: int = LINEAR_STEPS,
                       lr: float = LINEAR_LR, weight_decay: float = LINEAR_WEIGHT_DECAY,
                       seed: int = 0) -> nn.Linear:
    """Fit ``nn.Linear(C, num_classes)`` to already standardized features.

    Args:
        train_feats (Tensor): ``(N, C)`` features.
        train_labels (Tensor): ``(N,)`` integer labels.
        num_classes (int, optional): Defaults to ``max(train_labels) + 1``.
        steps, lr, weight_decay: The schedule (module defaults).
        seed (int): Seed of the initial weights (a private generator; the
            global RNG is untouched).

    Returns:
        nn.Linear: The trained classifier (float32, eval mode).
    """
    if train_feats.dim() != 2 or len(train_feats) != len(train_labels) or not len(train_feats):
        raise ValueError(f'features must be (N, C) with N labels, got '
                         f'{tuple(train_feats.shape)} and {len(train_labels)} labels')
    labels = train_labels.long()
    num_classes = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    x = train_feats.float()
    gen = torch.Generator().manual_seed(seed)
    layer = nn.Linear(x.shape[1], num_classes)
    bound = 1.0 / x.shape[1] ** 0.5  # nn.Linear's default range, drawn from ``gen``
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)
    opt = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(layer(x), labels).backward()
            opt.step()
    return layer.eval()


def linear_probe_top1(train_feats: Tensor, train_labels: Tensor, val_feats: Tensor,
                      val_labels: Tensor, num_classes: Optional[int] = None,
                      seed: int = 0, **schedule) -> float:
    """Top-1 (%, 0-100) on ``val_feats`` of a linear probe fit on ``train_feats``.

    Features are standardized with the training statistics first
    (:func:`standardize`); ``schedule`` overrides ``steps``/``lr``/``weight_decay``.
    """
    if num_classes is None:
        num_classes = int(max(train_labels.max(), val_labels.max())) + 1
    train, val = standardize(train_feats.float(), val_feats.float())
    layer = train_linear_probe(train, train_labels, num_classes, seed=seed, **schedule)
    with torch.no_grad():
        pred = layer(val).argmax(1)
    return 100.0 * (pred == val_labels.long()).float().mean().item()
