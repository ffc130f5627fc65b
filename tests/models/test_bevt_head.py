"""BEVTHead: decoder shapes, masked loss from the registry, accuracy, weights."""
import pytest
import torch

from bevt_mm.models.heads import BEVTHead

C = 32


def stream_loss(head, stream, feats, target, mask):
    """Loss and accuracy of one stream."""
    out = head.loss(stream, feats, target, mask)
    return out[f'loss_{stream}'], out[f'acc_{stream}']


def make_head(**kwargs) -> BEVTHead:
    torch.manual_seed(0)
    head = BEVTHead(in_channels=C, num_classes=16, **kwargs)
    head.init_weights()
    return head


def image_feats(n: int = 2):
    return torch.randn(n, 4, 4, C // 2), torch.randn(n, 2, 2, C)


def video_feats(n: int = 2, t: int = 2):
    return torch.randn(n, t, 4, 4, C // 2), torch.randn(n, t, 2, 2, C)


def test_logit_shapes_and_temporal_restore():
    head = make_head()
    assert head('image', image_feats()).shape == (2, 4, 4, 16)
    assert head('video', video_feats(t=3)).shape == (2, 6, 4, 4, 16)
    assert make_head(temporal_scale=4)('video', video_feats(t=1)).shape == (2, 4, 4, 4, 16)


def test_loss_uses_masked_positions_only():
    """Each decoded position depends only on its own stage-3 token and its
    stage-4 parent, so perturbing unmasked stage-3 tokens (or unmasked targets)
    must leave the loss unchanged, and perturbing masked ones must not."""
    head = make_head()
    s3, s4 = image_feats()
    target = torch.randint(0, 16, (2, 4, 4))
    mask = torch.rand(2, 4, 4) < 0.5
    mask[0, 0, 0], mask[0, 0, 1] = True, False
    loss, _ = stream_loss(head, 'image', (s3, s4), target, mask)

    s3_unmasked = s3.clone()
    s3_unmasked[~mask] += torch.randn_like(s3_unmasked[~mask]) * 10
    target_unmasked = target.clone()
    target_unmasked[~mask] = (target_unmasked[~mask] + 1) % 16
    loss2, _ = stream_loss(head, 'image', (s3_unmasked, s4), target_unmasked, mask)
    torch.testing.assert_close(loss, loss2)

    s3_masked = s3.clone()
    s3_masked[mask] += 10
    loss3, _ = stream_loss(head, 'image', (s3_masked, s4), target, mask)
    assert (loss - loss3).abs() > 1e-4
    # equals cross-entropy of the all-position logits at masked positions
    logits = head('image', (s3, s4))
    ref = torch.nn.functional.cross_entropy(logits[mask], target[mask])
    torch.testing.assert_close(loss, ref)


def test_loss_dict_weights_and_accuracy():
    head = make_head(loss_weights=dict(video=0.5))
    s_img, s_vid = image_feats(), video_feats()
    img_t, vid_t = torch.randint(0, 16, (2, 4, 4)), torch.randint(0, 16, (2, 4, 4, 4))
    img_m, vid_m = torch.rand(2, 4, 4) < 0.5, torch.rand(2, 4, 4, 4) < 0.5
    losses = dict(head.loss('image', s_img, img_t, img_m))
    losses.update(head.loss('video', s_vid, vid_t, vid_m))
    assert set(losses) == {'loss_image', 'acc_image', 'loss_video', 'acc_video'}
    raw, acc = losses['loss_video'] / 0.5, losses['acc_video']
    torch.testing.assert_close(raw, torch.nn.functional.cross_entropy(
        head('video', s_vid)[vid_m], vid_t[vid_m]))
    logits = head('video', s_vid)
    expected = (logits[vid_m].argmax(-1) == vid_t[vid_m]).float().mean() * 100
    torch.testing.assert_close(acc, expected)


def test_loss_module_is_built_from_the_registry():
    """``loss`` is a registry config (MMAction2's CrossEntropyLoss by default);
    its loss_weight scales the masked loss, an unknown type fails at build."""
    s3, s4 = image_feats()
    target = torch.randint(0, 16, (2, 4, 4))
    mask = torch.rand(2, 4, 4) < 0.5
    base = make_head()
    assert type(base.loss_module).__name__ == 'CrossEntropyLoss'
    double = make_head(loss=dict(type='CrossEntropyLoss', loss_weight=2.0))
    torch.testing.assert_close(double.loss('image', (s3, s4), target, mask)['loss_image'],
                               2 * base.loss('image', (s3, s4), target, mask)['loss_image'])
    with pytest.raises(KeyError, match='NoSuchLoss'):
        make_head(loss=dict(type='NoSuchLoss'))


def test_nothing_masked_gives_finite_zero_loss():
    head = make_head()
    s3, s4 = image_feats()
    s3.requires_grad_(True)
    loss, _ = stream_loss(head, 'image', (s3, s4), torch.zeros(2, 4, 4, dtype=torch.long),
                               torch.zeros(2, 4, 4, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()


def test_separate_norms_and_errors():
    head = make_head(share_norm=False)
    assert hasattr(head, 'image_norm') and hasattr(head, 'video_norm')
    assert not hasattr(head, 'norm')
    with pytest.raises(ValueError, match='loss_weights'):
        BEVTHead(in_channels=C, loss_weights=dict(audio=1.0))
    with pytest.raises(ValueError, match='differ'):
        head.loss('image', image_feats(), torch.zeros(2, 3, 3, dtype=torch.long),
                  torch.ones(2, 3, 3, dtype=torch.bool))


def test_decoders_are_the_transposed_convs_as_linear_layers():
    """Same parameters and checkpoint keys as nn.ConvTranspose; outputs allclose
    to the convs on the channels-first view (kernel == stride)."""
    head = make_head(temporal_scale=2)
    torch.nn.init.normal_(head.video_decoder.upsample_temporal.bias)
    assert {k for k in head.state_dict() if 'decoder' in k} == {
        f'{d}.{m}.{p}' for d, ms in (('image_decoder', ('upsample', 'proj')),
                                     ('video_decoder', ('upsample_spatial', 'proj',
                                                        'upsample_temporal')))
        for m in ms for p in ('weight', 'bias')}
    s3, s4 = image_feats()
    dec = head.image_decoder
    up = dec.upsample(s4.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    torch.testing.assert_close(dec(s3, s4), dec.proj(torch.cat([s3, up], -1)))
    s3, s4 = video_feats(t=3)
    dec = head.video_decoder
    up = dec.upsample_spatial(s4.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
    x = dec.proj(torch.cat([s3, up], -1)).permute(0, 4, 1, 2, 3)
    ref = dec.upsample_temporal(x).permute(0, 2, 3, 4, 1)
    torch.testing.assert_close(dec(s3, s4), ref)


@pytest.mark.parametrize('stream', ['image', 'video'])
def test_masked_decoding_equals_full_decoding_at_masked_positions(stream):
    """The loss path decodes only the masked positions: same values and
    gradients (allclose) as the whole grid indexed by the mask, for masks that
    split tubelets and 2x2 parents too."""
    torch.manual_seed(1)
    head = make_head(temporal_scale=2)
    feats = image_feats(3) if stream == 'image' else video_feats(3, t=2)
    grid = (3, 4, 4) if stream == 'image' else (3, 4, 4, 4)
    mask = torch.rand(grid) < 0.4
    mask[0] = False  # a sample without masked positions
    full_in = tuple(f.clone().requires_grad_(True) for f in feats)
    part_in = tuple(f.clone().requires_grad_(True) for f in feats)
    full = head.decode(stream, full_in)[mask]
    part = head.decode_masked(stream, part_in, mask)
    torch.testing.assert_close(part, full)
    g = torch.randn_like(full)
    full.backward(g)
    part.backward(g)
    for a, b in zip(part_in, full_in):
        torch.testing.assert_close(a.grad, b.grad)
    with pytest.raises(ValueError, match='differ'):
        head.decode_masked(stream, feats, mask[..., :2])
