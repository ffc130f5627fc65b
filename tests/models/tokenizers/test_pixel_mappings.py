"""Every tokenizer pixel mapping against an independent reference, and its inverse."""
import pytest
import torch
from torchvision.transforms import Normalize

from bevt_mm.models.tokenizers import map_pixels, unmap_pixels
from bevt_mm.models.tokenizers.base import PIXEL_MAPPINGS

X = torch.arange(256, dtype=torch.uint8).repeat(3, 1).view(1, 3, 16, 16)
X = torch.cat([X, X.flip(-1)])  # every value in every channel
UNIT = X.float() / 255.
REFERENCE = {
    'dalle': 0.8 * UNIT + 0.1,  # dall_e.map_pixels, eps 0.1
    'minus_one_one': UNIT * 2 - 1,  # taming-transformers VQGAN
    'zero_one': UNIT,
    # BEiT v2 VQ-KD: torchvision's ImageNet normalization of [0, 1] pixels
    'imagenet': Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))(UNIT),
}


def test_every_mapping_has_a_reference():
    assert set(REFERENCE) == set(PIXEL_MAPPINGS)


@pytest.mark.parametrize('mapping', PIXEL_MAPPINGS)
def test_mapping_matches_reference_and_inverts(mapping):
    mapped = map_pixels(X, mapping)
    assert mapped.dtype == torch.float32
    torch.testing.assert_close(mapped, REFERENCE[mapping], rtol=0, atol=1e-6)
    torch.testing.assert_close(map_pixels(X.float(), mapping), mapped)  # float [0, 255] input
    back = unmap_pixels(mapped, mapping)
    assert back.dtype == torch.uint8 and torch.equal(back, X)


@pytest.mark.parametrize('mapping', PIXEL_MAPPINGS)
def test_unmap_clamps_out_of_range(mapping):
    far = torch.full((1, 3, 2, 2), 1e3)
    assert torch.equal(unmap_pixels(far, mapping),
                       torch.full((1, 3, 2, 2), 255, dtype=torch.uint8))
    assert torch.equal(unmap_pixels(-far, mapping), torch.zeros(1, 3, 2, 2, dtype=torch.uint8))


def test_unknown_mapping_is_named():
    with pytest.raises(ValueError, match="'bgr'.*imagenet"):
        map_pixels(X, 'bgr')
    with pytest.raises(ValueError, match="'bgr'"):
        unmap_pixels(UNIT, 'bgr')
