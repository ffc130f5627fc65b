"""How often a frozen tokenizer's ids under autocast equal its fp32 ids.

The recipe runs the tokenizer inside the training step's autocast (the
``AmpOptimWrapper`` wraps ``model.loss``), so its targets are computed in
fp16/bf16. :func:`tokenizer_agreement` measures the share of token ids that
stay the same as in float32 on smooth random images (natural images are
smooth; white noise would exaggerate near-ties of the argmax).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F


def smooth_images(num: int, size: int, seed: int = 0) -> torch.Tensor:
    """Smooth random images: 8x8 noise upsampled bicubically plus a little fine noise.

    Args:
        num (int): Images.
        size (int): Height and width in pixels.
        seed (int): Seed of the noise. Defaults to 0.

    Returns:
        Tensor: ``(num, 3, size, size)`` float pixels in [0, 255].
    """
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(num, 3, 8, 8, generator=g)
    x = F.interpolate(coarse, size=(size, size), mode='bicubic', align_corners=False)
    x = x + 0.05 * torch.randn(num, 3, size, size, generator=g)
    return (x.clamp(0, 1) * 255).round()


def build_dalle(checkpoint: Optional[str] = None, **arch) -> torch.nn.Module:
    """The DALL-E tokenizer, with random weights where there is no checkpoint file.

    Args:
        checkpoint (str, optional): The encoder's weights, used if the file
            exists.
        **arch: ``n_hid`` / ``vocab_size`` / ``n_blk_per_group`` overrides.

    Returns:
        DALLETokenizer: The tokenizer.
    """
    import os.path as osp

    from bevt_mm.models.tokenizers import DALLETokenizer
    if checkpoint and osp.isfile(checkpoint):
        return DALLETokenizer(checkpoint=checkpoint, **arch)
    return DALLETokenizer(checkpoint=None, random_init=True, **arch)


def tokenizer_agreement(tokenizer: torch.nn.Module, images: torch.Tensor, device: str = 'cpu',
                        dtypes: Sequence[torch.dtype] = (torch.bfloat16, ),
                        batch: int = 16) -> Dict:
    """Share of ids under autocast in each dtype equal to the float32 ids.

    Args:
        tokenizer (nn.Module): A frozen tokenizer (``forward(pixels) -> ids``).
        images (Tensor): ``(N, 3, h, w)`` pixels in [0, 255].
        device (str): Device.
        dtypes (Sequence[torch.dtype]): Autocast dtypes to compare.
        batch (int): Images per tokenizer call.

    Returns:
        dict: ``tokens`` (ids compared) and, per dtype name, ``agreement``
        (fraction in [0, 1]) and ``images_all_equal`` (fraction of images
        whose ids all agree); on CUDA for DALL-E also
        ``fp16_convs_as_released`` (its own fp16 convs, no autocast). The
        reference is float32 throughout (TF32 off, DALL-E's fp16 convs off).
    """
    dev = torch.device(device)
    tokenizer = tokenizer.to(dev).eval()
    prev_tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False

    def ids(dtype=None):
        out = []
        for chunk in images.split(batch):
            chunk = chunk.to(dev)
            if dtype is None:
                out.append(tokenizer(chunk).cpu())
            else:
                with torch.autocast(dev.type, dtype=dtype):
                    out.append(tokenizer(chunk).cpu())
        return torch.cat(out)

    # DALL-E's convs run in fp16 on CUDA whatever the autocast (``use_float16``, as
    # the released dall_e): the reference turns that off to be float32
    half_convs = [m for m in tokenizer.modules() if getattr(m, 'use_float16', False)]
    try:
        for m in half_convs:
            m.use_float16 = False
        ref = ids()
        for m in half_convs:
            m.use_float16 = True
        result: Dict = dict(tokens=ref.numel(), images=images.shape[0],
                            view=list(images.shape[-2:]))
        if half_convs and dev.type == 'cuda':  # as released, no autocast
            same = ids() == ref
            result['fp16_convs_as_released'] = dict(
                agreement=float(same.float().mean()),
                images_all_equal=float(same.flatten(1).all(1).float().mean()))
        for dtype in dtypes:
            same = ids(dtype) == ref
            result[str(dtype).replace('torch.', '')] = dict(
                agreement=float(same.float().mean()),
                images_all_equal=float(same.flatten(1).all(1).float().mean()))
    finally:
        for m in half_convs:
            m.use_float16 = True
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = prev_tf32
    return result
