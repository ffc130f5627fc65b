#!/usr/bin/env python
"""How often a frozen tokenizer's ids under autocast equal its fp32 ids.

The recipe runs the tokenizer inside the training step's autocast (the
``AmpOptimWrapper`` wraps ``model.loss``), so its targets are computed in
fp16/bf16. :func:`tokenizer_agreement` measures the share of token ids that
stay the same as in float32 on smooth random images (natural images are
smooth; white noise would exaggerate near-ties of the argmax).
"""
import argparse
from typing import Dict

import torch

from bevt_mm.analysis.tokenizer_agreement import build_dalle, smooth_images, tokenizer_agreement
from bevt_mm.utils.stack_warnings import ignore_stack_noise


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="share of the DALL-E tokenizer's ids under autocast equal to its fp32 ids")
    p.add_argument('--tokenizer', default=None,
                   help='DALL-E encoder weights (default: random weights, same architecture)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtypes', nargs='+', default=['bfloat16'], choices=['float16', 'bfloat16'])
    p.add_argument('--images', type=int, default=32, help='smooth random images')
    p.add_argument('--size', type=int, default=112, help="view size (recipe: 112)")
    return p.parse_args(argv)


def main(argv=None) -> Dict:
    ignore_stack_noise()
    args = parse_args(argv)
    res = tokenizer_agreement(build_dalle(args.tokenizer), smooth_images(args.images, args.size),
                              args.device, [getattr(torch, d) for d in args.dtypes])
    print(f"{res['tokens']} ids of {res['images']} images ({res['view'][0]} px):")
    for k, v in res.items():
        if isinstance(v, dict):
            print(f"  {k}: {100 * v['agreement']:.2f} % of ids equal, "
                  f"{100 * v['images_all_equal']:.1f} % of images with all ids equal")
    return res


if __name__ == '__main__':
    main()
