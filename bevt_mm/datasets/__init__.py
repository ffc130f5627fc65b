"""BEVT data: datasets, transforms (masks, tokenizer view) and samplers."""
from . import samplers, transforms  # noqa: F401
