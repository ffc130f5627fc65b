# Targets: PeCo's perceptual codebook, a VQGAN-layout tokenizer (8192 codes, factor 8).
# Set the architecture numbers to your checkpoint's config (ddconfig / n_embed / embed_dim);
# the values below are taming's VQGAN f8 layout. bevt_mm/models/tokenizers/vqvae.py lists the
# checkpoint layouts that load.
tokenizer = dict(
    type='VQVAETokenizer', checkpoint='data/tokenizers/peco_vqgan.pth',
    ch=128, ch_mult=(1, 1, 2, 4), num_res_blocks=2, attn_resolutions=(), resolution=112,
    z_channels=256, embed_dim=256, vocab_size=8192, pixel_mapping='minus_one_one')
tokenizer_vocab_size = 8192
tokenizer_view_size = 112  # TokenizerView size: 112 -> 14x14 tokens (factor 8)
