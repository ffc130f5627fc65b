"""BEVTSwinTransformer3D: weight sharing, masking, attention forms, shapes."""

import logging

import pytest
import torch
from bevt_builders import TINY_ARCH, TINY_WINDOW, tiny_backbone_cfg
from mmaction.registry import MODELS

from bevt_mm.models.backbones import BEVTSwinTransformer3D


def build(**kwargs) -> BEVTSwinTransformer3D:
    torch.manual_seed(0)
    model = MODELS.build(tiny_backbone_cfg(**kwargs))
    model.init_weights()
    return model.eval()


def tie_2d_to_3d(model: BEVTSwinTransformer3D) -> None:
    """2D patch weight = sum over time of the 3D one (and same bias/norm)."""
    with torch.no_grad():
        model.patch_embed_2d.proj.weight.copy_(model.patch_embed.proj.weight.sum(2))
        model.patch_embed_2d.proj.bias.copy_(model.patch_embed.proj.bias)
        model.patch_embed_2d.norm.load_state_dict(model.patch_embed.norm.state_dict())


@torch.no_grad()
def test_image_stream_equals_video_stream_on_repeated_image():
    model = build(final_norm=True, out_indices=(0, 1, 2, 3))
    tie_2d_to_3d(model)
    image = torch.randn(2, 3, 64, 64)
    clip = image.unsqueeze(2).repeat(1, 1, 2, 1, 1)
    outs_image = model(image)
    outs_video = model(clip)
    assert len(outs_image) == 4
    for oi, ov in zip(outs_image, outs_video):
        assert ov.shape[2] == 1
        torch.testing.assert_close(oi, ov.squeeze(2), atol=1e-5, rtol=1e-5)
    # the pretraining path with a mask too
    mask = torch.rand(2, 4, 4) < 0.5
    s3i, s4i = model(image, mask)
    s3v, s4v = model(clip, mask.unsqueeze(1))
    torch.testing.assert_close(s3i, s3v.squeeze(1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(s4i, s4v.squeeze(1), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_pretrain_features_and_mask_token():
    model = build()
    video = torch.randn(2, 3, 4, 64, 64)
    s3, s4 = model.forward_pretrain(video)
    c = TINY_ARCH['embed_dims']
    assert s3.shape == (2, 2, 4, 4, 4 * c) and s4.shape == (2, 2, 2, 2, 8 * c)
    # fully masked inputs: features no longer depend on the pixels
    full = torch.ones(2, 2, 4, 4, dtype=torch.bool)
    a = model.forward_pretrain(video, full)[1]
    b = model.forward_pretrain(torch.randn_like(video), full)[1]
    torch.testing.assert_close(a, b)
    # masking changes features; the mask token is used at masked patches only
    emb = model._embed(video, full & (torch.rand(2, 2, 4, 4) < 0.5))
    plain = model._embed(video, None)
    masked = (emb == model.mask_token.view(1, 1, 1, 1, -1)).all(-1)
    assert masked.any() and (emb[~masked] == plain[~masked]).all()
    with pytest.raises(ValueError, match='divide'):
        model.forward_pretrain(video, torch.ones(2, 2, 3, 3, dtype=torch.bool))


def test_fused_attention_matches_explicit_forward_and_backward():
    model = build()
    x = torch.randn(1, 3, 4, 72, 72)  # 18x18 patch grid: padded windows, shifts, masks
    mask = torch.rand(1, 2, 9, 9) < 0.5
    grads = []
    outs = []
    for fused in (True, False):
        model.fused_attention = fused
        model.zero_grad()
        s3, s4 = model.forward_pretrain(x, mask)
        (s3.square().mean() + s4.square().mean()).backward()
        outs.append((s3.detach(), s4.detach()))
        grads.append(model.layers[0].blocks[1].attn.qkv.weight.grad.clone())
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_with_cp_gives_same_gradients():
    plain = build()
    cp = build(with_cp=True)
    cp.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 4, 64, 64)
    for m in (plain, cp):
        m.train()
        s3, s4 = m.forward_pretrain(x)
        (s3.mean() + s4.square().mean()).backward()
    for (name, p1), p2 in zip(plain.named_parameters(), cp.parameters()):
        if p1.grad is not None:
            torch.testing.assert_close(p1.grad, p2.grad, atol=1e-6, rtol=1e-5, msg=name)


def test_shrunk_window_true_offsets_lookup_is_opt_in():
    """``relative_bias_lookup='true_offsets'``: a window shrunk to the feature
    map takes the bias of its real offsets (not the default)."""
    attn = build(relative_bias_lookup='true_offsets').layers[0].blocks[0].attn
    full = attn.relative_position_bias(TINY_WINDOW)  # nH, 32, 32
    sub = attn.relative_position_bias((1, 2, 2))
    coords = [(0, h, w) for h in range(2) for w in range(2)]
    flat = [(d * TINY_WINDOW[1] + h) * TINY_WINDOW[2] + w for d, h, w in coords]
    torch.testing.assert_close(sub, full[:, flat][:, :, flat])
    # temporal-only shrink is MMAction2's prefix slice (image stream, T'=1)
    n = TINY_WINDOW[1] * TINY_WINDOW[2]
    torch.testing.assert_close(attn.relative_position_bias((1, 4, 4)), full[:, :n, :n])


def test_shrunk_window_default_lookup_is_mmaction_prefix():
    """Default: MMAction2's (and the authors') ``index[:N, :N]`` at any window."""
    attn = build().layers[0].blocks[0].attn
    full = attn.relative_position_bias(TINY_WINDOW)
    for window in [(1, 2, 2), (2, 3, 1), (1, 4, 4), (2, 4, 4)]:
        n = window[0] * window[1] * window[2]
        torch.testing.assert_close(attn.relative_position_bias(window), full[:, :n, :n])
    with pytest.raises(ValueError, match='relative_bias_lookup'):
        build(relative_bias_lookup='offsets')


@pytest.mark.parametrize('shape', [(4, 32, 32), (2, 24, 40), (4, 64, 64)])
@torch.no_grad()
def test_default_equals_stock_swin_where_windows_shrink(shape):
    """Same weights, stock SwinTransformer3D: equal where windows shrink to the map."""
    from mmaction.models.backbones import SwinTransformer3D
    ours = build(final_norm=True, out_indices=(0, 1, 2, 3))
    stock = SwinTransformer3D(arch=dict(TINY_ARCH), window_size=TINY_WINDOW, pretrained2d=False,
                              out_indices=(0, 1, 2, 3))
    stock.eval()  # (the stock Swin's train() returns None: no chaining)
    for name, p in ours.named_parameters():  # non-trivial tables
        if 'relative_position_bias_table' in name:
            p.normal_(0, 1)
    stock.load_state_dict(ours.state_dict(), strict=False)
    x = torch.randn(1, 3, *shape)
    for a, b in zip(ours(x), stock(x)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_state_dict_keys_are_stock_plus_bevt_extras():
    from mmaction.models.backbones import SwinTransformer3D
    ours = set(build(final_norm=True).state_dict())
    stock = set(SwinTransformer3D(arch=dict(TINY_ARCH), window_size=TINY_WINDOW,
                                  pretrained2d=False).state_dict())
    stock = {k for k in stock if not k.endswith('relative_position_index')}
    assert ours - stock == {'mask_token', 'patch_embed_2d.proj.weight',
                            'patch_embed_2d.proj.bias', 'patch_embed_2d.norm.weight',
                            'patch_embed_2d.norm.bias'}
    assert stock - ours == set()
    assert not any(k.startswith('norm3') for k in build(final_norm=False).state_dict())


def test_fine_tuning_path_is_a_plain_backbone():
    model = build(final_norm=True, frozen_stages=1)
    model.train()
    assert not model.layers[0].training  # frozen stages stay in eval
    out = model(torch.randn(1, 3, 4, 64, 64))
    assert out.shape == (1, 8 * TINY_ARCH['embed_dims'], 2, 2, 2)
    assert model.eval() is model


@pytest.mark.slow
@pytest.mark.parametrize('arch', ['tiny', 'base'])
@torch.no_grad()
def test_token_logit_shapes_at_224(arch):
    """224 images -> 14x14 logits; 16x224x224 clips -> 16x14x14 (tubelet restored).

    The base arch keeps its widths and heads with 1 block per stage (cost).
    """
    from bevt_mm.models.heads import BEVTHead
    arches = dict(tiny='tiny', base=dict(embed_dims=128, depths=[1, 1, 1, 1],
                                         num_heads=[4, 8, 16, 32]))
    torch.manual_seed(0)
    backbone = BEVTSwinTransformer3D(arch=arches[arch], final_norm=False).eval()
    head = BEVTHead(in_channels=backbone.num_features[-1], num_classes=64).eval()
    image = torch.randn(1, 3, 224, 224)
    mask = torch.zeros(1, 14, 14, dtype=torch.bool)
    assert head('image', backbone(image, mask)).shape == (1, 14, 14, 64)
    video = torch.randn(1, 3, 16, 224, 224)
    vmask = torch.zeros(1, 8, 14, 14, dtype=torch.bool)
    assert head('video', backbone(video, vmask)).shape == (1, 16, 14, 14, 64)


def test_paper_base_arch_builds_and_runs_small_input():
    torch.manual_seed(0)
    model = BEVTSwinTransformer3D(arch='base', final_norm=False, drop_path_rate=0.3)
    assert model.embed_dims == 128 and model.depths == [2, 2, 18, 2]
    with torch.no_grad():
        s3, s4 = model.eval().forward_pretrain(torch.randn(1, 3, 2, 32, 32))
    assert s3.shape == (1, 1, 2, 2, 512) and s4.shape == (1, 1, 1, 1, 1024)


def test_sdpa_attention_equals_explicit_at_recipe_window():
    """Swin-T stage-1 window attention (8x7x7 windows, shift mask): SDPA == explicit.

    Speed is measured by tools/analysis/benchmark.py, not here.
    """
    from mmaction.models.backbones.swin import compute_mask
    torch.manual_seed(0)
    attn = BEVTSwinTransformer3D(arch='tiny').layers[0].blocks[1].attn.eval()
    x = torch.randn(16, 392, 96)  # 16 windows of 8x7x7 tokens
    mask = compute_mask(8, 28, 14, (8, 7, 7), (4, 3, 3), x.device)  # 8 windows
    outs = {}
    with torch.no_grad():
        for fused in (False, True):
            attn.fused = fused
            outs[fused] = attn(x, mask)
    torch.testing.assert_close(outs[True], outs[False], atol=1e-5, rtol=1e-4)


def test_pretrained_full_bevt_checkpoint(tmp_path):
    """``pretrained=`` takes the ``backbone.*`` keys of a full BEVT checkpoint."""
    src = build()
    path = str(tmp_path / 'bevt.pth')
    torch.save(dict(state_dict={**{f'backbone.{k}': v for k, v in src.state_dict().items()},
                                'head.classifier.weight': torch.zeros(2, 2)}), path)
    torch.manual_seed(1)
    dst = MODELS.build(tiny_backbone_cfg(pretrained=path))
    dst.init_weights()
    for (name, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), name


def test_runs_under_bf16_autocast():
    model = build()
    x = torch.randn(1, 3, 4, 64, 64)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        s3, s4 = model.forward_pretrain(x, torch.rand(1, 2, 4, 4) < 0.5)
    assert torch.isfinite(s4.float()).all()


def test_invalid_options_raise():
    with pytest.raises(ValueError, match='image_shift_mode'):
        build(image_shift_mode='timm')
    model = build(mask_token=False)
    assert model.mask_token is None
    with pytest.raises(ValueError, match='mask_token=False'):
        model.forward_pretrain(torch.randn(1, 3, 64, 64), torch.ones(1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match='images'):
        model(torch.randn(3, 64, 64))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_pretrained_with_another_window_resizes_relative_tables(tmp_path):
    """A (2, 4, 4) checkpoint into a (4, 4, 4) backbone: tables resized as the
    exporter's ``--window-size`` does, and said so in the log."""
    from mmengine.logging import MMLogger

    from bevt_mm.utils.checkpoint import resize_relative_table
    src = build()
    with torch.no_grad():
        for name, p in src.named_parameters():
            if 'relative_position_bias_table' in name:
                p.normal_(0, 1)
    path = str(tmp_path / 'bevt_w244.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in src.state_dict().items()}), path)
    torch.manual_seed(1)
    dst = MODELS.build(tiny_backbone_cfg(pretrained=path, window_size=(4, 4, 4)))
    records = _Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(records)
    try:
        dst.init_weights()
    finally:
        logger.removeHandler(records)
    key = 'layers.2.blocks.1.attn.relative_position_bias_table'
    expected = resize_relative_table(src.state_dict()[key], (2, 4, 4), (4, 4, 4))
    assert dst.state_dict()[key].shape == (7 * 7 * 7, 2)
    torch.testing.assert_close(dst.state_dict()[key], expected)
    resized = [line for line in records.lines if 'resized' in line]
    assert len(resized) == 1 and '(2, 4, 4)' in resized[0] and '(4, 4, 4)' in resized[0], \
        records.lines
    assert not any('mismatch' in line for line in records.lines), records.lines
    # every other weight loaded as is
    assert torch.equal(dst.layers[2].blocks[1].attn.qkv.weight,
                       src.layers[2].blocks[1].attn.qkv.weight)


def test_without_image_stream_parameters_are_stock():
    """``image_stream=False, mask_token=False`` (fine-tuning configs): exactly
    stock SwinTransformer3D's parameters; images are refused."""
    from mmaction.models.backbones import SwinTransformer3D
    ours = build(final_norm=True, image_stream=False, mask_token=False)
    stock = SwinTransformer3D(arch=dict(TINY_ARCH), window_size=TINY_WINDOW, pretrained2d=False)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in stock.named_parameters()]
    with pytest.raises(ValueError, match='image_stream=False'):
        ours(torch.randn(1, 3, 64, 64))
