"""A checkpoint of tools/train_tokenizer.py stores its architecture
(``meta.tokenizer_cfg``); the config needs only ``type`` and ``checkpoint``, and the file wins over
the config's keys."""
import pytest
import torch

from bevt_mm.models.tokenizers import VQVAETokenizer

#: tools/train_tokenizer.py's `tiny` preset at --size 32, as it stores it
ARCH = dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, z_channels=16, embed_dim=8,
            vocab_size=64, num_groups=4, resolution=32)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    torch.manual_seed(0)
    tok = VQVAETokenizer(**ARCH, with_decoder=True, random_init=True, frozen=False)
    path = str(tmp_path_factory.mktemp('tok') / 'vqvae_tiny.pth')
    torch.save(dict(state_dict=tok.state_dict(), meta=dict(tokenizer_cfg=ARCH, steps=1)), path)
    return path, tok.eval()


def test_architecture_comes_from_the_checkpoint(trained):
    path, original = trained
    tok = VQVAETokenizer(checkpoint=path)  # no architecture keys
    assert tok.vocab_size == 64 and tok.downsample == 2
    clip = torch.rand(2, 3, 32, 32) * 255
    torch.testing.assert_close(tok(clip), original(clip))
    # the keys a config already has still work when they agree
    VQVAETokenizer(checkpoint=path, **ARCH)


def test_the_checkpoint_wins_over_a_config_of_another_preset(trained):
    path, original = trained
    tok = VQVAETokenizer(checkpoint=path, vocab_size=128, ch=16)  # e.g. a config's preset
    assert tok.vocab_size == 64 and tok.encoder.conv_in.out_channels == 8
    clip = torch.rand(2, 3, 32, 32) * 255
    torch.testing.assert_close(tok(clip), original(clip))
