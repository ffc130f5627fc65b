"""Tokenizers: DALL-E parity with the dall-e package, checkpoint handling, VQ-VAE training."""

import numpy as np
import pytest
import torch

from bevt_mm.models.tokenizers import (TokenizerCheckpointError, VQVAETokenizer, evaluate_vqvae,
                                       map_pixels, train_vqvae)
from mmaction.registry import MODELS

dall_e = pytest.importorskip('dall_e')
TINY_DALLE = dict(n_hid=64, vocab_size=512, n_blk_per_group=1)  # dall_e's smallest legal sizes


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny convs run faster on one thread on the shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def dalle_files(tmp_path_factory, load_tool):
    torch.manual_seed(0)
    enc = dall_e.Encoder(**TINY_DALLE)
    root = tmp_path_factory.mktemp('dalle')
    pkl = str(root / 'encoder.pkl')
    torch.save(enc, pkl)  # what OpenAI released: a pickled dall_e.Encoder
    tool = load_tool('convert/dalle_encoder_to_state_dict.py')
    converted = str(root / 'dalle_encoder.pth')
    tool.convert(pkl, converted, check=True)
    return enc, pkl, converted


def test_dalle_token_ids_equal_dall_e_package(dalle_files):
    enc, pkl, converted = dalle_files
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    ref = enc(dall_e.map_pixels(x.float() / 255.)).argmax(1)
    for path in (pkl, converted):
        tok = MODELS.build(dict(type='DALLETokenizer', checkpoint=path, **TINY_DALLE))
        ids = tok(x)
        assert ids.dtype == torch.long and ids.shape == (4, 4, 4)
        assert torch.equal(ids, ref)
        assert torch.equal(tok(x.float()), ref)  # float input in [0, 255] too
    # the converted file is a plain state dict: loads without executing a pickle
    state = torch.load(converted, weights_only=True)
    assert set(state) == set(enc.state_dict())


def test_dalle_pixel_mapping_matches():
    x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    assert torch.equal(map_pixels(x, 'dalle'), dall_e.map_pixels(x.float() / 255.))


def test_tokenizer_is_frozen(dalle_files):
    tok = MODELS.build(dict(type='DALLETokenizer', checkpoint=dalle_files[1], **TINY_DALLE))
    assert not tok.training and not any(p.requires_grad for p in tok.parameters())
    assert tok.train() is tok and not tok.training
    assert tok.vocab_size == 512 and tok.downsample == 8
    before = {k: v.clone() for k, v in tok.state_dict().items()}
    tok.init_weights()  # mmengine calls this after building: must not touch weights
    assert all(torch.equal(before[k], v) for k, v in tok.state_dict().items())
    ids = tok(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    assert not ids.requires_grad


def test_missing_and_wrong_files_name_path_format_source(tmp_path, dalle_files):
    missing = str(tmp_path / 'nope' / 'encoder.pkl')
    for cfg in (dict(type='DALLETokenizer'), dict(type='VQVAETokenizer'),
                dict(type='VQKDTokenizer')):
        with pytest.raises(TokenizerCheckpointError) as err:
            MODELS.build(dict(cfg, checkpoint=missing))
        msg = str(err.value)
        assert missing in msg and 'Expected format' in msg and 'come from' in msg
        with pytest.raises(TokenizerCheckpointError, match='random_init=True'):
            MODELS.build(cfg)
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint at all' * 10)
    with pytest.raises(TokenizerCheckpointError, match='garbage.pth'):
        MODELS.build(dict(type='DALLETokenizer', checkpoint=str(garbage)))
    # right format, wrong architecture
    with pytest.raises(TokenizerCheckpointError, match='do not match'):
        MODELS.build(dict(type='DALLETokenizer', checkpoint=dalle_files[2], n_hid=128,
                          vocab_size=512, n_blk_per_group=1))
    vq = tmp_path / 'vq.pth'
    torch.save({'state_dict': {'foo': torch.zeros(1)}}, vq)
    with pytest.raises(TokenizerCheckpointError, match='lacks'):
        MODELS.build(dict(type='VQVAETokenizer', checkpoint=str(vq)))


TINY_VQ = dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, z_channels=16, embed_dim=8, vocab_size=64,
               num_groups=4, resolution=16)


def test_vqvae_taming_layout_and_lightning_checkpoint(tmp_path):
    torch.manual_seed(0)
    src = VQVAETokenizer(**TINY_VQ, with_decoder=True, random_init=True,
                         attn_resolutions=(8, ))
    keys = set(src.state_dict())
    for key in ('encoder.conv_in.weight', 'encoder.down.0.block.0.norm1.weight',
                'encoder.down.1.block.0.nin_shortcut.weight',
                'encoder.down.0.downsample.conv.weight',
                'encoder.down.1.attn.0.q.weight', 'encoder.mid.attn_1.proj_out.weight',
                'encoder.norm_out.weight', 'encoder.conv_out.weight', 'quant_conv.weight',
                'quantize.embedding.weight', 'post_quant_conv.weight',
                'decoder.up.1.upsample.conv.weight', 'decoder.up.0.block.1.conv2.weight',
                'decoder.mid.block_2.conv1.weight', 'decoder.conv_out.weight'):
        assert key in keys, key
    # a Lightning .ckpt of taming's VQModel: state_dict + discriminator/LPIPS weights
    ckpt = {'state_dict': {**src.state_dict(), 'loss.discriminator.main.0.weight': torch.zeros(1)},
            'global_step': 10}
    path = str(tmp_path / 'last.ckpt')
    torch.save(ckpt, path)
    enc_only = VQVAETokenizer(**TINY_VQ, attn_resolutions=(8, ), checkpoint=path)
    with_dec = VQVAETokenizer(**TINY_VQ, attn_resolutions=(8, ), checkpoint=path, with_decoder=True)
    x = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    src.train(False)
    ids = src(x)
    assert ids.shape == (3, 8, 8)
    assert torch.equal(enc_only(x), ids) and torch.equal(with_dec(x), ids)
    dec = with_dec.decode(ids)
    assert dec.shape == (3, 3, 16, 16) and dec.dtype == torch.uint8
    # prefixed keys (e.g. a PeCo/other wrapper) load too
    torch.save({'model': {f'module.{k}': v for k, v in src.state_dict().items()}}, path)
    assert torch.equal(VQVAETokenizer(**TINY_VQ, attn_resolutions=(8, ), checkpoint=path)(x), ids)
    # the taming AttnBlock / Downsample conventions
    with pytest.raises(TokenizerCheckpointError, match='does not match'):
        VQVAETokenizer(**dict(TINY_VQ, vocab_size=32), attn_resolutions=(8, ), checkpoint=path)


def _palette_images(n, size=16, seed=0):
    palette = np.array([[230, 40, 40], [40, 200, 60], [40, 60, 220], [240, 220, 40],
                        [20, 20, 20], [235, 235, 235]], np.uint8)
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, size, size, 3), np.uint8)
    for k in range(n):
        imgs[k] = palette[rng.integers(0, 6)]
        for _ in range(2):
            y0, x0 = rng.integers(0, size - 4, 2)
            h, w = rng.integers(4, size // 2 + 1, 2)
            imgs[k, y0:y0 + h, x0:x0 + w] = palette[rng.integers(0, 6)]
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()


@pytest.mark.slow
def test_vqvae_training_reconstructs_better_than_mean_image():
    torch.manual_seed(0)
    train, held_out = _palette_images(2048, seed=0), _palette_images(256, seed=1)
    gen = torch.Generator().manual_seed(0)

    def batches():
        while True:
            yield train[torch.randint(0, len(train), (16, ), generator=gen)]

    tok = VQVAETokenizer(**TINY_VQ, with_decoder=True, random_init=True, frozen=False)
    before = evaluate_vqvae(tok, held_out)
    train_vqvae(tok, batches(), steps=300, lr=3e-3, restart_every=50)
    after = evaluate_vqvae(tok, held_out)
    print(f'\nVQ-VAE 16x16, 300 steps: reconstruction MSE {after["mse"]:.4f} '
          f'(before {before["mse"]:.4f}; mean-image baseline {after["mean_image_mse"]:.4f}), '
          f'PSNR {after["psnr"]:.1f} dB, codebook usage {after["codes_used"]:.0f}/64, '
          f'perplexity {after["perplexity"]:.1f}')
    assert after['mse'] < 0.6 * after['mean_image_mse']
    assert after['mse'] < before['mse']
    assert after['codebook_usage'] > 0.5


def test_vqkd_tokenizer_random_init_and_checkpoint(tmp_path):
    from bevt_mm.models.tokenizers.vqkd import VQKD_BASE_ENCODER
    enc = dict(VQKD_BASE_ENCODER, img_size=32,
               arch=dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64))
    tok = MODELS.build(dict(type='VQKDTokenizer', encoder_config=enc, vocab_size=16, embed_dims=8,
                            random_init=True))
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    ids = tok(x)
    assert ids.shape == (2, 2, 2) and ids.dtype == torch.long and int(ids.max()) < 16
    path = str(tmp_path / 'vqkd.pth')
    torch.save({'state_dict': tok.vqkd.state_dict()}, path)
    again = MODELS.build(dict(type='VQKDTokenizer', encoder_config=enc, vocab_size=16,
                              embed_dims=8, checkpoint=path))
    assert torch.equal(again(x), ids)
