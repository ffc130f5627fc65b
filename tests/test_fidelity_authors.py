"""Numerical fidelity to the authors' BEVT implementation (golden file).

The golden file holds a small BEVT Video Swin in the authors' checkpoint
layout, fixed inputs/masks/targets and what the authors' code computes in eval
mode. We convert the state dict with the converter users call
(``tools/convert/authors_bevt_to_bevt_mm.py`` -> ``convert_authors_bevt``),
build our backbone and head from the file's config and require the same
features, logits and losses. ``BEVT_AUTHORS_GOLDEN`` names another file of the
same format.
"""
import os
import os.path as osp

import pytest
import torch

from bevt_mm.models.backbones import BEVTSwinTransformer3D
from bevt_mm.models.heads import BEVTHead
from bevt_mm.utils.checkpoint import convert_authors_bevt

GOLDEN = os.environ.get('BEVT_AUTHORS_GOLDEN') or osp.join(
    osp.dirname(__file__), 'data', 'authors_bevt_swin_small.pt')
ATOL = 1e-5


def build_from_golden(golden: dict, image_shift_mode: str = 'swin'):
    """Our backbone + head from the golden config, with converted weights."""
    cfg = golden['config']
    embed = cfg['embed_dim']
    backbone = BEVTSwinTransformer3D(
        arch=dict(embed_dims=embed, depths=list(cfg['depths']),
                  num_heads=list(cfg['num_heads'])),
        patch_size=tuple(cfg['patch_size']), window_size=tuple(cfg['window_size']),
        mlp_ratio=cfg['mlp_ratio'], qkv_bias=cfg['qkv_bias'], qk_scale=cfg['qk_scale'],
        drop_rate=cfg['drop_rate'], attn_drop_rate=cfg['attn_drop_rate'],
        drop_path_rate=cfg['drop_path_rate'], patch_norm=cfg['patch_norm'],
        final_norm=False, image_shift_mode=image_shift_mode)
    num_stages = len(cfg['depths'])
    head = BEVTHead(in_channels=embed * 2**(num_stages - 1), num_classes=cfg['vocab_size'],
                    temporal_scale=cfg['patch_size'][0])
    state = convert_authors_bevt(golden['state_dict'])
    model = torch.nn.ModuleDict(dict(backbone=backbone, head=head))
    missing, unexpected = model.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    return model.eval()


@pytest.fixture(scope='module')
def golden():
    if not osp.isfile(GOLDEN):
        pytest.fail(f'golden file not found: {GOLDEN}')
    return torch.load(GOLDEN, map_location='cpu', weights_only=False)


def run_stream(model, stream: str, x, mask, target, target_mask):
    """Features after the decoder norm, logits and masked loss of one stream."""
    feats = model['backbone'].forward_pretrain(x, mask)
    decoded = model['head'].decode(stream, feats)
    n, c = decoded.shape[0], decoded.shape[-1]
    loss = model['head'].loss(stream, feats, target, target_mask)[f'loss_{stream}']
    return (decoded.reshape(n, -1, c), model['head'].classifier(decoded).reshape(n, -1, model[
        'head'].num_classes), loss)


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()


@torch.no_grad()
def test_matches_authors_outputs(golden):
    model = build_from_golden(golden)
    inp, out = golden['inputs'], golden['outputs']
    feat, logits, loss = run_stream(model, 'image', inp['image'], inp['image_mask'],
                                    inp['image_targets'], inp['image_mask'])
    assert max_diff(feat, out['image_feat']) < ATOL
    assert max_diff(logits, out['image_logits']) < ATOL
    assert max_diff(loss, out['loss_image']) < ATOL
    feat, logits, loss = run_stream(model, 'video', inp['video'], inp['video_mask'],
                                    inp['video_targets'], inp['video_target_mask'])
    assert max_diff(feat, out['video_feat']) < ATOL
    assert max_diff(logits, out['video_logits']) < ATOL
    assert max_diff(loss, out['loss_video']) < ATOL


@torch.no_grad()
def test_explicit_attention_matches_too(golden):
    model = build_from_golden(golden)
    model['backbone'].fused_attention = False
    inp, out = golden['inputs'], golden['outputs']
    feat, _, loss = run_stream(model, 'video', inp['video'], inp['video_mask'],
                               inp['video_targets'], inp['video_target_mask'])
    assert max_diff(feat, out['video_feat']) < ATOL
    assert max_diff(loss, out['loss_video']) < ATOL


@torch.no_grad()
def test_authors_image_shift_mode_reproduces_their_code(golden):
    """``image_shift_mode='authors'`` reproduces their image stream as is."""
    as_is = golden.get('outputs_authors_code_as_is')
    if as_is is None:
        pytest.skip('golden file has no outputs_authors_code_as_is')
    inp = golden['inputs']
    model = build_from_golden(golden, image_shift_mode='authors')
    feat, _, loss = run_stream(model, 'image', inp['image'], inp['image_mask'],
                               inp['image_targets'], inp['image_mask'])
    assert max_diff(feat, as_is['image_feat']) < ATOL
    assert max_diff(loss, as_is['loss_image']) < ATOL
    # and it is a real departure from Swin semantics, not a no-op
    assert max_diff(feat, golden['outputs']['image_feat']) > 1e-3
