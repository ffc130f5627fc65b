"""bevt_mm.evaluation.knn: DINO's temperature-weighted cosine k-NN votes, known answers."""
import math

import pytest
import torch

from bevt_mm.evaluation.knn import knn_top1, knn_votes


def test_knn_votes_are_temperature_weighted_cosine_votes():
    """Query e0 against 4 training vectors with known cosines 1, 0.6, 0, -1; k=3, T=0.5."""
    train = torch.tensor([[2.0, 0.0], [0.6, 0.8], [0.0, 3.0], [-1.0, 0.0]],
                         dtype=torch.float64)  # cosines with e0: 1, 0.6, 0, -1
    labels = torch.tensor([0, 1, 1, 0])
    votes = knn_votes(train, labels, torch.tensor([[5.0, 0.0]]), num_classes=3, k=3,
                      temperature=0.5)
    # neighbours: cos 1 (class 0), 0.6 (class 1), 0 (class 1); the -1 one is not among k=3
    expected = torch.tensor([[math.exp(1 / 0.5), math.exp(0.6 / 0.5) + math.exp(0.0), 0.0]],
                            dtype=torch.float64)
    assert torch.allclose(votes, expected, rtol=1e-12, atol=0)
    # class 0 wins (7.39 > 3.32 + 1) although class 1 has more neighbours
    assert knn_top1(train, labels, torch.tensor([[5.0, 0.0]]), torch.tensor([0]), k=3,
                    temperature=0.5) == 100.0
    # with a high temperature the votes are nearly counts: class 1 (two neighbours) wins
    assert knn_top1(train, labels, torch.tensor([[5.0, 0.0]]), torch.tensor([1]), k=3,
                    temperature=100.0) == 100.0
    # k is capped at the training size; chunks give the same votes
    q = torch.randn(7, 2)
    assert torch.equal(knn_votes(train, labels, q, 3, k=50, chunk_size=2),
                       knn_votes(train, labels, q, 3, k=4))
    with pytest.raises(ValueError, match='training features but'):
        knn_votes(train, labels[:2], q)
