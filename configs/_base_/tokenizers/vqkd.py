# Targets: BEiT v2's VQ-KD tokenizer through mmpretrain (8192 codes, ViT patch 16).
tokenizer = dict(type='VQKDTokenizer', checkpoint='data/tokenizers/vqkd_encoder.pth')
tokenizer_vocab_size = 8192
tokenizer_view_size = 224  # TokenizerView size: the 224 crop itself -> 14x14 tokens
