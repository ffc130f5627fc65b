"""Counted FLOPs of a BEVT training step (Video Swin + decoders + classifier).

One multiply-add = 2 FLOPs; only matmul-like work is counted; a training
step is 3x the forward (2x for the patch embedding, 1x for the frozen
tokenizer). The accounting in full: ``tools/analysis/flops.py``.
"""
from typing import Dict, Optional, Sequence

import torch


def _ceil_to(n: int, w: int) -> int:
    return -(-n // w) * w


def swin_forward_flops(backbone, clip_shape: Sequence[int],
                       image: bool = False) -> Dict[str, float]:
    """Forward FLOPs of a Swin3D backbone on one input.

    Args:
        backbone: ``SwinTransformer3D`` (stock or BEVT); its ``embed_dims``,
            ``patch_size``, ``window_size`` and layers' depths/heads are read.
        clip_shape (Sequence[int]): ``(T, H, W)`` for a video, ``(H, W)`` for
            an image (``image=True``: one temporal position, 2D patches).
        image (bool): Image stream. Defaults to False.

    Returns:
        dict: ``patch_embed``, ``attention`` (qkv, QK^T, AV, proj),
        ``mlp``, ``patch_merging`` and ``total`` FLOPs of one sample.
    """
    pt, ph, pw = backbone.patch_size
    if image:
        h, w = clip_shape[-2:]
        grid = [1, -(-h // ph), -(-w // pw)]
        embed_k = 3 * ph * pw
    else:
        t, h, w = clip_shape
        grid = [-(-t // pt), -(-h // ph), -(-w // pw)]
        embed_k = 3 * pt * ph * pw
    c = backbone.embed_dims
    out = dict(patch_embed=2. * grid[0] * grid[1] * grid[2] * embed_k * c,
               attention=0., mlp=0., patch_merging=0.)
    for layer in backbone.layers:
        ws = [min(g, w) for g, w in zip(grid, layer.window_size)]
        padded = [_ceil_to(g, w) for g, w in zip(grid, ws)]
        tokens = grid[0] * grid[1] * grid[2]
        tokens_padded = padded[0] * padded[1] * padded[2]
        n = ws[0] * ws[1] * ws[2]
        hidden = int(layer.blocks[0].mlp.fc1.out_features)
        for _ in layer.blocks:
            # qkv and proj run on the padded windows; QK^T and AV per window
            out['attention'] += 2. * tokens_padded * (3 * c * c + c * c + 2 * n * c)
            out['mlp'] += 2. * tokens * 2 * c * hidden
        if layer.downsample is not None:
            grid = [grid[0], -(-grid[1] // 2), -(-grid[2] // 2)]
            out['patch_merging'] += 2. * grid[0] * grid[1] * grid[2] * 4 * c * 2 * c
            c *= 2
    out['total'] = sum(out.values())
    return out


def head_forward_flops(head, stage3_grid: Sequence[int], image: bool,
                       num_masked: float) -> Dict[str, float]:
    """Forward FLOPs of one stream's decoder and the classifier at masked positions.

    Args:
        head: ``BEVTHead``.
        stage3_grid (Sequence[int]): ``(t, h, w)`` of the stage-3 features
            (``t = 1`` for images).
        image (bool): Image decoder (else the video decoder).
        num_masked (float): Masked target positions of one sample.

    Returns:
        dict: ``decoder`` and ``classifier`` FLOPs of one sample.
    """
    c = head.in_channels
    skip = head.image_decoder.proj.in_features - c
    t, h, w = stage3_grid
    pos = t * h * w
    dec = 2. * pos * c * c  # 2x2 transposed conv: each output position sees C_in x C_out
    dec += 2. * pos * (c + skip) * c  # projection after the concat
    if not image:
        scale = head.video_decoder.upsample_temporal.stride[0]
        dec += 2. * pos * scale * c * c  # temporal transposed conv
    return dict(decoder=dec, classifier=2. * num_masked * c * head.num_classes)


def tokenizer_flops(tokenizer, view_shape: Sequence[int], frames: int) -> float:
    """Forward FLOPs of the tokenizer on ``frames`` views ``(3, h, w)``.

    Counted by ``torch.utils.flop_counter`` on one frame (convolutions only).

    Args:
        tokenizer (BaseTokenizer): The model's ``target_generator``.
        view_shape (Sequence[int]): ``(3, h, w)`` of one view.
        frames (int): Views per sample.

    Returns:
        float: FLOPs of one sample.
    """
    from torch.utils.flop_counter import FlopCounterMode
    param = next(tokenizer.parameters(), None)
    device = param.device if param is not None else 'cpu'
    x = torch.zeros((1, ) + tuple(view_shape), device=device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        tokenizer.encode_ids(tokenizer.map_pixels(x))
    return float(counter.get_total_flops()) * frames


def step_flops(model, batch_videos: int, batch_images: int, frames: int, size: int,
               view: int, video_masked: float, image_masked: float,
               tokenizer: bool = True,
               tokenizer_frames: Optional[int] = None) -> Dict[str, float]:
    """FLOPs of one BEVT training step (forward + backward; tokenizer forward only).

    Args:
        model: ``BEVT`` with a Swin3D backbone and ``BEVTHead``.
        batch_videos, batch_images (int): Clips and images per step.
        frames, size (int): Clip length and crop size.
        view (int): Tokenizer view size.
        video_masked, image_masked (float): Masked target positions per
            sample (mean).
        tokenizer (bool): Count the tokenizer.
        tokenizer_frames (int, optional): Views the tokenizer encodes (BEVT
            skips video frames without a masked position); default all.

    Returns:
        dict: forward FLOPs per part (``*_fwd``) and ``step`` (training step
        FLOPs, all parts).
    """
    bb, head = model.backbone, model.head
    out: Dict[str, float] = {}
    step = 0.
    pt = bb.patch_size[0]
    for name, n, image in (('video', batch_videos, False), ('image', batch_images, True)):
        if not n:
            continue
        shape = (size, size) if image else (frames, size, size)
        sw = swin_forward_flops(bb, shape, image=image)
        grid3 = (1 if image else -(-frames // pt), size // 16, size // 16)
        hd = head_forward_flops(head, grid3, image, image_masked if image else video_masked)
        out[f'{name}_backbone_fwd'] = n * sw['total']
        out[f'{name}_head_fwd'] = n * (hd['decoder'] + hd['classifier'])
        step += n * (3 * (sw['total'] - sw['patch_embed']) + 2 * sw['patch_embed']
                     + 3 * (hd['decoder'] + hd['classifier']))
    if tokenizer:
        frames_tok = batch_videos * frames + batch_images if tokenizer_frames is None \
            else tokenizer_frames
        out['tokenizer_fwd'] = tokenizer_flops(model.target_generator, (3, view, view),
                                               frames_tok) if frames_tok else 0.
        step += out['tokenizer_fwd']
    out['step'] = step
    return out


def counted_flops(fn, *args) -> float:
    """FLOPs that ``torch.utils.flop_counter`` sees while running ``fn(*args)``.

    Args:
        fn (Callable): What to run.
        *args: Its arguments.

    Returns:
        float: The count.
    """
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return float(counter.get_total_flops())
