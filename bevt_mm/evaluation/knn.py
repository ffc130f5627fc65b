"""Weighted k-nearest-neighbour classifier on frozen features (DINO's k-NN probe).

As in DINO (Caron et al., ICCV 2021, Sec. 4.1 and its ``eval_knn.py``): the
features are L2-normalized, each query takes the ``k`` training samples with
the highest cosine similarity ``s``, and every neighbour votes for its label
with weight ``exp(s / T)``; the class with the largest summed vote wins.
Defaults ``k=20, T=0.07`` are DINO's.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

#: DINO's defaults (k=20 neighbours, temperature 0.07)
DEFAULT_K = 20
DEFAULT_TEMPERATURE = 0.07


def knn_votes(train_feats: Tensor, train_labels: Tensor, query_feats: Tensor,
              num_classes: Optional[int] = None, k: int = DEFAULT_K,
              temperature: float = DEFAULT_TEMPERATURE, chunk_size: int = 1024) -> Tensor:
    """Temperature-weighted class votes of the ``k`` nearest training samples.

    Args:
        train_feats (Tensor): ``(N, C)`` training features (any scale).
        train_labels (Tensor): ``(N,)`` integer labels in ``[0, num_classes)``.
        query_feats (Tensor): ``(M, C)`` features to classify.
        num_classes (int, optional): Defaults to ``max(train_labels) + 1``.
        k (int): Neighbours; capped at ``N``. Defaults to 20.
        temperature (float): ``T`` of the vote weight ``exp(cos / T)``.
        chunk_size (int): Queries per similarity matrix (bounds memory).

    Returns:
        Tensor: ``(M, num_classes)`` summed vote weights (float64).

    Raises:
        ValueError: For empty or mismatched inputs, or ``k < 1``.
    """
    if train_feats.dim() != 2 or query_feats.dim() != 2 or \
            train_feats.shape[1] != query_feats.shape[1]:
        raise ValueError(f'features must be (N, C) and (M, C), got {tuple(train_feats.shape)} '
                         f'and {tuple(query_feats.shape)}')
    if len(train_feats) == 0 or len(train_labels) != len(train_feats):
        raise ValueError(f'{len(train_feats)} training features but {len(train_labels)} labels')
    if k < 1 or temperature <= 0:
        raise ValueError(f'k must be >= 1 and temperature > 0, got k={k}, T={temperature}')
    labels = train_labels.long()
    num_classes = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    k = min(k, len(train_feats))
    train = F.normalize(train_feats.double(), dim=1)
    votes = []
    for start in range(0, len(query_feats), chunk_size):
        query = F.normalize(query_feats[start:start + chunk_size].double(), dim=1)
        sim, idx = (query @ train.t()).topk(k, dim=1)
        weight = (sim / temperature).exp()
        out = torch.zeros(len(query), num_classes, dtype=torch.float64)
        votes.append(out.scatter_add_(1, labels[idx], weight))
    return torch.cat(votes) if votes else torch.zeros(0, num_classes, dtype=torch.float64)


def knn_top1(train_feats: Tensor, train_labels: Tensor, val_feats: Tensor, val_labels: Tensor,
             num_classes: Optional[int] = None, k: int = DEFAULT_K,
             temperature: float = DEFAULT_TEMPERATURE) -> float:
    """Top-1 accuracy (%, 0-100) of :func:`knn_votes` on ``val_feats``.

    Ties between classes go to the lower class index (``argmax``).
    """
    if num_classes is None:
        num_classes = int(max(train_labels.max(), val_labels.max())) + 1
    votes = knn_votes(train_feats, train_labels, val_feats, num_classes, k, temperature)
    return 100.0 * (votes.argmax(1) == val_labels.long()).double().mean().item()
