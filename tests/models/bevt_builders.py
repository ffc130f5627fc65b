"""Small BEVT configs and batches shared by the model tests (tiny, CPU-fast)."""
from typing import Dict, List, Optional

import torch
from mmaction.structures import ActionDataSample

#: 4 stages, shifted blocks in each, windows that fit 64x64 inputs
TINY_ARCH = dict(embed_dims=8, depths=[2, 2, 2, 2], num_heads=[1, 1, 2, 2])
TINY_WINDOW = (2, 4, 4)
VOCAB = 32


def tiny_backbone_cfg(**kwargs) -> Dict:
    cfg = dict(type='BEVTSwinTransformer3D', arch=dict(TINY_ARCH), window_size=TINY_WINDOW,
               drop_path_rate=0., final_norm=False)
    cfg.update(kwargs)
    return cfg


def tiny_tokenizer_cfg(vocab_size: int = VOCAB) -> Dict:
    """The project's VQVAETokenizer, tiny and randomly initialized (factor 8)."""
    return dict(type='VQVAETokenizer', ch=8, ch_mult=(1, 1, 2, 4), num_res_blocks=1,
                z_channels=8, embed_dim=8, vocab_size=vocab_size, num_groups=4,
                random_init=True)


def tiny_bevt_cfg(**head_kwargs) -> Dict:
    head = dict(type='BEVTHead', in_channels=TINY_ARCH['embed_dims'] * 8, num_classes=VOCAB)
    head.update(head_kwargs)
    return dict(type='BEVT', backbone=tiny_backbone_cfg(), head=head,
                target_generator=tiny_tokenizer_cfg(),
                data_preprocessor=dict(type='BEVTDataPreprocessor'))


def make_sample(modality: str, frames: int = 4, size: int = 64, grid: int = 4,
                seed: int = 0, ratio: float = 0.5) -> Dict:
    """One packed sample per the data contract (uint8 input, masks, tokenizer view).

    ``grid`` is the token grid (size / 16), the tokenizer view is ``grid * 8``.
    """
    g = torch.Generator().manual_seed(seed)
    view = grid * 8
    if modality == 'image':
        inputs = torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8)
        mask = torch.rand(grid, grid, generator=g) < ratio
        target_mask = mask.clone()
        tok = torch.randint(0, 256, (3, view, view), generator=g, dtype=torch.uint8)
    else:
        inputs = torch.randint(0, 256, (3, frames, size, size), generator=g, dtype=torch.uint8)
        tube = torch.rand(grid, grid, generator=g) < ratio
        mask = tube.expand(frames // 2, grid, grid).clone()
        target_mask = mask.repeat_interleave(2, dim=0)
        tok = torch.randint(0, 256, (3, frames, view, view), generator=g, dtype=torch.uint8)
    sample = ActionDataSample(metainfo=dict(modality=modality))
    sample.mask = mask
    sample.target_mask = target_mask
    sample.tokenizer_inputs = tok
    return dict(inputs=inputs, data_samples=sample)


def make_batch(modalities: List[str], seed: int = 0, **kwargs) -> Dict:
    """``pseudo_collate``-style batch: dict of lists."""
    samples = [make_sample(m, seed=seed + i, **kwargs) for i, m in enumerate(modalities)]
    return dict(inputs=[s['inputs'] for s in samples],
                data_samples=[s['data_samples'] for s in samples])


def seed_all(seed: Optional[int] = 0) -> None:
    torch.manual_seed(seed)
