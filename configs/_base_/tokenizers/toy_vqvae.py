# Targets: the project's own VQ-VAE, trained on the toy images by tools/train_tokenizer.py
# (preset `small` with 256 codes, factor 8: a 32x32 view -> 4x4 tokens). `make demo` trains it:
#   python tools/train_tokenizer.py data/toy/images/train_list.txt --data-root data/toy/images \
#       --out work_dirs/toy/tokenizer/vqvae_toy.pth --preset small --arch vocab_size=256 --size 32
tokenizer = dict(
    type='VQVAETokenizer', checkpoint='work_dirs/toy/tokenizer/vqvae_toy.pth',
    ch=32, ch_mult=(1, 2, 2, 4), num_res_blocks=1, z_channels=64, embed_dim=32,
    vocab_size=256, num_groups=8, resolution=32)
tokenizer_vocab_size = 256
tokenizer_view_size = 32  # TokenizerView size: 32 -> 4x4 tokens (factor 8)
