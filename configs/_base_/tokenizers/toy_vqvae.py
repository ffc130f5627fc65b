# Targets: the project's own VQ-VAE, trained on the toy images by tools/train_tokenizer.py
# (preset `toy`: 256 codes, factor 8: a 32x32 view -> 4x4 tokens). `make demo` trains it:
#   python tools/train_tokenizer.py data/toy/images/train_list.txt --data-root data/toy/images \
#       --out work_dirs/toy/tokenizer/vqvae_toy.pth --preset toy --size 32
tokenizer = dict(
    type='VQVAETokenizer', checkpoint='work_dirs/toy/tokenizer/vqvae_toy.pth',
    ch=16, ch_mult=(1, 1, 2, 2), num_res_blocks=1, z_channels=32, embed_dim=16,
    vocab_size=256, num_groups=4, resolution=32)
tokenizer_vocab_size = 256
tokenizer_view_size = 32  # TokenizerView size: 32 -> 4x4 tokens (factor 8)
