"""BEVTTimeSformer, BEVTPlainHead and the TimeSformer export (tiny, CPU-fast)."""
import os.path as osp
import runpy
import sys

import mmaction
import pytest
import torch
from bevt_builders import VOCAB, make_batch, tiny_tokenizer_cfg
from mmaction.models.backbones.timesformer import TimeSformer
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from bevt_mm.utils.safe_load import load_checkpoint_file
from bevt_mm.utils.checkpoint import bevt_to_mmaction_timesformer, resize_time_embed

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FRAMES, SIZE, DIMS = 4, 64, 32
TINY = dict(num_frames=FRAMES, img_size=SIZE, patch_size=16, embed_dims=DIMS, num_heads=2,
            num_transformer_layers=2)
STOCK_RECIPE = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'recognition',
                        'timesformer', 'timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb.py')


def build_backbone(seed: int = 0, **kwargs) -> torch.nn.Module:
    """Tiny backbone with random (non-zero) weights everywhere, eval mode."""
    torch.manual_seed(seed)
    backbone = MODELS.build(dict(type='BEVTTimeSformer', **{**TINY, **kwargs}))
    backbone.init_weights()
    with torch.no_grad():  # time_embed and temporal_fc start at zero: make them matter
        for p in backbone.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return backbone.eval()


def stock_keys(state_dict):
    return {k: v for k, v in state_dict.items()
            if not (k.startswith('patch_embed_2d.') or k == 'mask_token')}


def timesformer_batch(modalities, seed=0):
    """Packed samples for a temporal patch of 1: video masks are per frame."""
    batch = make_batch(modalities, seed=seed, frames=FRAMES, size=SIZE, grid=SIZE // 16)
    for sample in batch['data_samples']:
        if sample.metainfo['modality'] == 'video':
            sample.mask = sample.target_mask.clone()  # (T, h, w)
    return batch


def tiny_bevt(**head_kwargs):
    head = dict(type='BEVTPlainHead', in_channels=DIMS, num_classes=VOCAB, **head_kwargs)
    torch.manual_seed(0)
    model = MODELS.build(dict(type='BEVT', backbone=dict(type='BEVTTimeSformer', **TINY),
                              head=head, target_generator=tiny_tokenizer_cfg()))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def backbone():
    return build_backbone()


# ----------------------------------------------------------------- backbone
def test_keys_are_stock_plus_image_embed_and_mask_token(backbone):
    stock = TimeSformer(**TINY)
    extra = set(backbone.state_dict()) - set(stock.state_dict())
    assert extra == {'patch_embed_2d.projection.weight', 'patch_embed_2d.projection.bias',
                     'mask_token'}
    assert set(stock.state_dict()) <= set(backbone.state_dict())


def test_video_path_is_stock_timesformer(backbone):
    stock = TimeSformer(**TINY).eval()
    stock.load_state_dict(stock_keys(backbone.state_dict()))
    x = torch.randn(2, 3, FRAMES, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(backbone(x), stock(x))
        tokens = backbone.forward_pretrain(x)
    assert tokens.shape == (2, FRAMES, 4, 4, DIMS)


def test_image_path_equals_video_path_on_one_frame_clip(backbone):
    """The documented equivalence: a one-frame input (image, or clip with
    T=1) gets no time embedding and skips temporal attention, so the image
    stream is the video stream on a one-frame clip, given the same patch
    embedding weights."""
    backbone = build_backbone()
    backbone.patch_embed_2d.load_state_dict(backbone.patch_embed.state_dict())
    image = torch.randn(2, 3, SIZE, SIZE)
    mask = torch.rand(2, 4, 4) < 0.5
    with torch.no_grad():
        image_tokens = backbone.forward_pretrain(image, mask)
        clip_tokens = backbone.forward_pretrain(image.unsqueeze(2), mask.unsqueeze(1))
        assert image_tokens.shape == (2, 4, 4, DIMS) and clip_tokens.shape == (2, 1, 4, 4, DIMS)
        assert (image_tokens - clip_tokens[:, 0]).abs().max().item() == 0.0
        assert torch.equal(backbone(image), backbone(image.unsqueeze(2)))


def test_image_stream_ignores_time_embed_and_temporal_attention():
    backbone = build_backbone()
    image = torch.randn(1, 3, SIZE, SIZE)
    video = torch.randn(1, 3, FRAMES, SIZE, SIZE)
    with torch.no_grad():
        before = backbone.forward_pretrain(image), backbone.forward_pretrain(video)
        backbone.time_embed.add_(1.)
        for layer in backbone.transformer_layers.layers:
            for p in layer.attentions[0].parameters():
                p.add_(0.5)
        after = backbone.forward_pretrain(image), backbone.forward_pretrain(video)
    assert torch.equal(before[0], after[0])
    assert not torch.allclose(before[1], after[1])


def test_stock_one_frame_timesformer_agrees_only_without_temporal_residual():
    """Stock TimeSformer on T=1 runs attention over one time step, which adds
    ``temporal_fc(out_proj(v))``: not an identity. It equals our image stream
    exactly where that residual and the time embedding vanish (temporal_fc
    and time_embed at their zero init)."""
    backbone = build_backbone(num_frames=1)
    backbone.patch_embed_2d.load_state_dict(backbone.patch_embed.state_dict())
    stock = TimeSformer(**{**TINY, 'num_frames': 1}).eval()
    stock.load_state_dict(stock_keys(backbone.state_dict()))
    image = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        assert (backbone(image) - stock(image.unsqueeze(2))).abs().max() > 1e-3
        for model in (backbone, stock):
            model.time_embed.zero_()
            for layer in model.transformer_layers.layers:
                layer.attentions[0].temporal_fc.weight.zero_()
                layer.attentions[0].temporal_fc.bias.zero_()
        torch.testing.assert_close(backbone(image), stock(image.unsqueeze(2)),
                                   rtol=0, atol=1e-6)


def test_mask_token_replaces_masked_patches(backbone):
    a, b = torch.randn(2, 1, 3, FRAMES, SIZE, SIZE)
    full = torch.ones(1, FRAMES, 4, 4, dtype=torch.bool)
    with torch.no_grad():
        # every patch masked: the tokens no longer depend on the pixels
        assert torch.equal(backbone.forward_pretrain(a, full), backbone.forward_pretrain(b, full))
        assert not torch.allclose(backbone.forward_pretrain(a, ~full),
                                  backbone.forward_pretrain(b, ~full))
        # image stream, and a token-grid mask repeated up in time (t=2 -> T=4)
        img_a, img_b = a[:, :, 0], b[:, :, 0]
        assert torch.equal(backbone.forward_pretrain(img_a, full[:, 0]),
                           backbone.forward_pretrain(img_b, full[:, 0]))
        half = torch.zeros(1, 2, 4, 4, dtype=torch.bool)
        half[:, 1] = True
        out = backbone.forward_pretrain(a, half)
        assert out.shape == (1, FRAMES, 4, 4, DIMS)
        assert torch.equal(backbone.forward_pretrain(a, half.repeat_interleave(2, 1)), out)


def test_input_checks_and_drop_path(backbone):
    with pytest.raises(ValueError, match='num_frames'):
        backbone(torch.randn(1, 3, 3, SIZE, SIZE))
    with pytest.raises(ValueError, match='img_size'):
        backbone(torch.randn(1, 3, FRAMES, 32, 32))
    with pytest.raises(ValueError, match='mask_token=False'):
        build_backbone(mask_token=False).forward_pretrain(
            torch.randn(1, 3, SIZE, SIZE), torch.ones(1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match='divided_space_time'):
        MODELS.build(dict(type='BEVTTimeSformer', attention_type='space_only', **TINY))
    rates = [m.drop_prob for m in build_backbone(drop_path_rate=0.3).modules()
             if hasattr(m, 'drop_prob')]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.3)


# --------------------------------------------------------------------- head
def test_plain_head_has_no_decoders_and_reuses_bevt_head_loss():
    head = MODELS.build(dict(type='BEVTPlainHead', in_channels=DIMS, num_classes=VOCAB,
                             loss_weights=dict(image=0.5)))
    head.init_weights()
    names = {n.split('.')[0] for n, _ in head.named_parameters()}
    assert names == {'classifier'}
    torch.manual_seed(1)
    tokens = torch.randn(2, FRAMES, 4, 4, DIMS)
    target = torch.randint(0, VOCAB, (2, FRAMES, 4, 4))
    mask = torch.rand(2, FRAMES, 4, 4) < 0.4
    image = torch.randn(2, 4, 4, DIMS)
    losses = dict(head.loss('image', image, target[:, 0], mask[:, 0]))
    losses.update(head.loss('video', tokens, target, mask))
    expected = torch.nn.functional.cross_entropy(head.classifier(tokens[mask]), target[mask])
    torch.testing.assert_close(losses['loss_video'], expected)
    expected_image = torch.nn.functional.cross_entropy(
        head.classifier(image[mask[:, 0]]), target[:, 0][mask[:, 0]])
    torch.testing.assert_close(losses['loss_image'], 0.5 * expected_image)
    assert head('video', tokens).shape == (2, FRAMES, 4, 4, VOCAB)
    with pytest.raises(ValueError, match='5-D'):
        head.loss('video', image, target[:, 0], mask[:, 0])
    normed = MODELS.build(dict(type='BEVTPlainHead', in_channels=DIMS, num_classes=VOCAB,
                               decoder_norm=True))
    assert {n.split('.')[0] for n, _ in normed.named_parameters()} == {'classifier', 'norm'}


def test_plain_head_builds_only_its_classifier():
    """Building BEVTPlainHead draws from the RNG exactly as its classifier
    alone: no decoder or norm is built (and thrown away)."""
    torch.manual_seed(0)
    MODELS.build(dict(type='BEVTPlainHead', in_channels=DIMS, num_classes=VOCAB))
    after_head = torch.rand(4)
    torch.manual_seed(0)
    torch.nn.Linear(DIMS, VOCAB)
    torch.testing.assert_close(after_head, torch.rand(4), rtol=0, atol=0)


def test_bevt_trains_with_timesformer():
    model = tiny_bevt()
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-2)
    data = model.data_preprocessor(timesformer_batch(['video', 'image', 'image']), True)
    assert data['inputs']['video']['mask'].shape == (1, FRAMES, 4, 4)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_image', 'acc_image', 'loss_video', 'acc_video'}
    (losses['loss_image'] + losses['loss_video']).backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert no_grad == []
    assert all(p.grad is None for p in model.target_generator.parameters())
    optim.step()
    optim.zero_grad()
    later = model(**data, mode='loss')
    assert later['loss_image'] + later['loss_video'] < losses['loss_image'] + losses['loss_video']
    logits = model(**data, mode='tensor')
    assert logits['video'].shape == (1, FRAMES, 4, 4, VOCAB)
    assert logits['image'].shape == (2, 4, 4, VOCAB)


# ---------------------------------------------------------------- converter
def stock_recognizer():
    """MMAction2's divST K400 recipe model, sizes shrunk only."""
    cfg = Config.fromfile(STOCK_RECIPE)
    cfg.model.backbone.update(pretrained=None, **TINY)
    cfg.model.cls_head.in_channels = DIMS
    return MODELS.build(cfg.model).eval()


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A BEVT checkpoint (trained one step) exported by the CLI."""
    model = tiny_bevt()
    folder = tmp_path_factory.mktemp('timesformer_export')
    src, dst = str(folder / 'bevt.pth'), str(folder / 'backbone.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), src)
    argv = sys.argv
    sys.argv = ['bevt_timesformer_to_mmaction.py', src, dst]
    try:
        runpy.run_path(osp.join(ROOT, 'tools/convert/bevt_timesformer_to_mmaction.py'),
                       run_name='__main__')
    finally:
        sys.argv = argv
    return model.backbone.eval(), dst


def test_export_loads_into_stock_recipe_with_equal_features(exported):
    backbone, path = exported
    recognizer = stock_recognizer()
    # what load_from does (non-strict); report the keys
    ckpt = load_checkpoint_file(path)
    own = recognizer.state_dict()
    missing = [k for k in own if k.startswith('backbone.') and k not in ckpt['state_dict']]
    unexpected = [k for k in ckpt['state_dict'] if k not in own]
    assert missing == [] and unexpected == []
    load_checkpoint(recognizer, path, map_location='cpu', strict=False)
    x = torch.randn(2, 3, FRAMES, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(recognizer.backbone(x), backbone(x))


def test_stock_pretrained_route_overwrites_what_ours_loads(exported, tmp_path):
    """Why the fine-tuning config names BEVTFinetuneTimeSformer: stock ``pretrained=``
    treats the file as a ViT and copies temporal over spatial attention weights (as stock,
    with bevt_mm imported too), while our backbones load the same file exactly."""
    backbone, path = exported
    bare = str(tmp_path / 'bare.pth')
    sd = {k[9:]: v for k, v in load_checkpoint_file(path)['state_dict'].items()}
    torch.save(dict(state_dict=sd), bare)
    stock = TimeSformer(pretrained=bare, **TINY)
    stock.init_weights()
    attn = 'transformer_layers.layers.0.attentions.{}.attn.in_proj_weight'
    assert torch.equal(stock.state_dict()[attn.format(1)], sd[attn.format(0)])
    assert not torch.equal(stock.state_dict()[attn.format(1)], sd[attn.format(1)])
    finetune = MODELS.build(dict(type='BEVTFinetuneTimeSformer', pretrained=bare, **TINY))
    finetune.init_weights()
    for k, v in stock_keys(backbone.state_dict()).items():
        assert torch.equal(finetune.state_dict()[k], v), k
    for file in (bare, path):
        ours = MODELS.build(dict(type='BEVTTimeSformer', pretrained=file, **TINY))
        ours.init_weights()
        for k, v in stock_keys(backbone.state_dict()).items():
            assert torch.equal(ours.state_dict()[k], v), k
        # no patch_embed_2d in the export: the image stream copies the video embed
        assert torch.equal(ours.patch_embed_2d.projection.weight,
                           ours.patch_embed.projection.weight)


def test_converter_checks_and_time_embed_resize():
    with pytest.raises(KeyError, match='bevt_to_mmaction_swin'):
        bevt_to_mmaction_timesformer({'backbone.patch_embed.proj.weight': torch.zeros(1)})
    backbone = build_backbone()
    sd = bevt_to_mmaction_timesformer(backbone.state_dict(), num_frames=8)
    assert sd['time_embed'].shape == (1, 8, DIMS)
    assert 'mask_token' not in sd and not any(k.startswith('patch_embed_2d') for k in sd)
    const = torch.ones(1, FRAMES, DIMS)
    torch.testing.assert_close(resize_time_embed(const, 8), torch.ones(1, 8, DIMS))
    assert resize_time_embed(const, FRAMES) is const


def test_init_from_vit_layout_uses_stock_conversion(tmp_path):
    """A ViT checkpoint in MMAction2's layout (one attention per layer): the stock
    conversion fills both attention steps; the image stream copies patch_embed."""
    source = build_backbone(seed=3)
    vit = {}
    for k, v in stock_keys(source.state_dict()).items():
        if '.attentions.0.' in k or k == 'time_embed':
            continue  # a ViT has no temporal step
        vit[k.replace('.attentions.1.', '.attentions.0.')] = v
    path = str(tmp_path / 'vit.pth')
    torch.save(dict(state_dict=vit), path)
    ours = MODELS.build(dict(type='BEVTTimeSformer', pretrained=path, **TINY))
    ours.init_weights()
    sd = ours.state_dict()
    spatial = 'transformer_layers.layers.1.attentions.{}.attn.in_proj_weight'
    assert torch.equal(sd[spatial.format(1)], source.state_dict()[spatial.format(1)])
    assert torch.equal(sd[spatial.format(0)], sd[spatial.format(1)])
    assert torch.equal(ours.patch_embed_2d.projection.weight, source.patch_embed.projection.weight)
