# Targets: OpenAI's DALL-E dVAE encoder (8192 codes, 112x112 view -> 14x14 tokens).
# Weights are a file you bring: OpenAI's released encoder.pkl (needs `pip install dall-e attrs`)
# or the state dict written by tools/convert/dalle_encoder_to_state_dict.py.
tokenizer = dict(type='DALLETokenizer', checkpoint='data/tokenizers/dalle_encoder.pkl')
tokenizer_vocab_size = 8192
tokenizer_view_size = 112  # TokenizerView size: 112 -> 14x14 tokens (factor 8)
