"""BEVT models: backbones, heads, algorithms, tokenizers, data preprocessors."""
from . import algorithms, backbones, data_preprocessors, heads, tokenizers  # noqa: F401
