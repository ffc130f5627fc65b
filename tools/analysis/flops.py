#!/usr/bin/env python
"""Counted FLOPs of a BEVT training step (Video Swin + decoders + classifier).

One multiply-add = 2 FLOPs. Only matmul-like work is counted (linear layers,
convolutions, attention products); norms, softmax, GELU and element-wise ops
are left out, as in the usual Swin/ViT accounting. A backward pass costs
twice its forward (gradients w.r.t. inputs and weights), so a training step
is 3x the forward, except the patch embedding, whose input gradient is not
needed (2x), and the frozen tokenizer (forward only).

:func:`swin_forward_flops` is cross-checked in the tests and in the benchmark
against ``torch.utils.flop_counter`` on the explicit-attention form (the
counter does not see CPU ``scaled_dot_product_attention``).
"""
import argparse
from typing import Dict

from bevt_mm.analysis.flops import step_flops
from bevt_mm.utils.stack_warnings import ignore_stack_noise


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='counted FLOPs of one BEVT training step')
    p.add_argument('config', help='BEVT pretraining config (Swin backbone)')
    p.add_argument('--batch-videos', type=int, default=None,
                   help='clips per step (default: the config videos_per_gpu)')
    p.add_argument('--batch-images', type=int, default=None,
                   help='images per step (default: the config images_per_gpu)')
    p.add_argument('--frames', type=int, default=None, help='frames per clip (default: config)')
    p.add_argument('--size', type=int, default=None, help='crop size (default: config)')
    return p.parse_args(argv)


def main(argv=None) -> Dict[str, float]:
    ignore_stack_noise()
    args = parse_args(argv)
    import bevt_mm  # noqa: F401  (registers the BEVT types)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from bevt_mm.analysis.measure import quiet_mmengine
    from bevt_mm.analysis.step_setup import (check_pretrain_config, check_swin_backbone, make_batch,
                                             prepare_config)
    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    raw = Config.fromfile(args.config)
    check_pretrain_config(raw, args.config)
    check_swin_backbone(raw, args.config)
    cfg = prepare_config(args.config, frames=args.frames, size=args.size)
    quiet_mmengine()
    frames, size, view = cfg.benchmark_frames, cfg.benchmark_size, cfg.benchmark_view
    bv = cfg.get('videos_per_gpu', 8) if args.batch_videos is None else args.batch_videos
    bi = cfg.get('images_per_gpu', 64) if args.batch_images is None else args.batch_images
    model = MODELS.build(cfg.model)
    batch = make_batch(cfg, max(bv, 1), max(bi, 1), frames, size, view)
    masked = {m: float(sum(s.target_mask.float().sum() for s in batch['data_samples']
                           if s.metainfo['modality'] == m)) / max(n, 1)
              for m, n in (('video', max(bv, 1)), ('image', max(bi, 1)))}
    fl = step_flops(model, bv, bi, frames, size, view, masked['video'], masked['image'])
    print(f'{args.config}: {bv} clips of {frames}x{size}x{size} + {bi} images, tokenizer view '
          f'{view} px (GFLOPs; forward, and the training step = 3x forward)')
    for k, v in fl.items():
        print(f'  {k:<24} {v / 1e9:12.2f}')
    return fl


if __name__ == '__main__':
    main()
