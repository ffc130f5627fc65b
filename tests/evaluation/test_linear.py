"""bevt_mm.evaluation.linear: the seeded linear probe on standardized features."""
import torch

from bevt_mm.evaluation.linear import linear_probe_top1, standardize


def test_linear_probe_separates_separable_features_and_is_seeded():
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 16, generator=gen) * 3
    labels = torch.arange(200) % 4
    feats = centers[labels] + 0.5 * torch.randn(200, 16, generator=gen)
    feats = feats * 100 + 7  # scale and shift: standardization undoes them
    val_labels = torch.arange(40) % 4
    val = (centers[val_labels] + 0.5 * torch.randn(40, 16, generator=gen)) * 100 + 7
    top1 = linear_probe_top1(feats, labels, val, val_labels, seed=0)
    assert top1 == 100.0
    assert linear_probe_top1(feats, labels, val, val_labels, seed=0) == top1
    # labels that ignore the features: at most chance-like on held-out data
    noise = linear_probe_top1(torch.randn(200, 16, generator=gen), labels,
                              torch.randn(400, 16, generator=gen), torch.arange(400) % 4)
    assert noise < 40.0
    a, b = standardize(feats, val)
    assert torch.allclose(a.mean(0), torch.zeros(16), atol=1e-4)
    assert torch.allclose(a.std(0, unbiased=False), torch.ones(16), atol=1e-4)
