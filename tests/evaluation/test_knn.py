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
    # k is capped at the training size (the same computation: equal bit for bit)
    q = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(knn_votes(train, labels, q, 3, k=50), knn_votes(train, labels, q, 3, k=4))
    with pytest.raises(ValueError, match='training features but'):
        knn_votes(train, labels[:2], q)


# Votes computed in other chunks come from other matrix-product shapes, which BLAS kernels may
# round differently (last bits of float64) on another CPU: equal within TOL, not bit for bit.
TOL = dict(rtol=1e-10, atol=1e-12)


def test_knn_votes_do_not_depend_on_the_chunk_size():
    """Chunked queries give the one-chunk votes (to rounding); a wrong temperature (the vote
    weighting) or neighbour count is far outside that tolerance."""
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(50, 16, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 5, (50,), generator=gen)
    query = torch.randn(37, 16, generator=gen, dtype=torch.float64)
    whole = knn_votes(train, labels, query, 5, k=10, temperature=0.07)
    for chunk_size in (1, 2, 5, 36):
        torch.testing.assert_close(
            knn_votes(train, labels, query, 5, k=10, temperature=0.07, chunk_size=chunk_size),
            whole, **TOL)
    for wrong in (dict(temperature=0.0707), dict(k=9)):  # T 1 % off; one neighbour less
        settings = dict(dict(k=10, temperature=0.07), **wrong)
        votes = knn_votes(train, labels, query, 5, chunk_size=2, **settings)
        assert not torch.allclose(votes, whole, **TOL), wrong
