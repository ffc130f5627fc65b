#!/usr/bin/env python
"""Window attention through SDPA against the explicit form, on any device.

:func:`window_attention_check` runs one :class:`BEVTWindowAttention3D` with
the shifted-window mask both ways (``fused=True``: ``scaled_dot_product_attention``
with bias + mask as one additive float mask; ``fused=False``:
``softmax(q k^T * scale + bias + mask) v``) on the same windows and compares
outputs and the gradients of the input, the qkv weight and the relative
position bias table. :func:`sdpa_backends` tries each SDPA backend alone and
records which ones run this call and which one runs by default.
:func:`attention_compare` times both forms on every stage of a built model
(``benchmark.py`` reports it).

Example::

    python tools/analysis/attention_check.py --window 8 7 7 --dim 128 --heads 4
"""
import argparse
import json

import torch

import bevt_mm  # noqa: F401  (crash fixes before MMAction2's models)


#: max |SDPA - explicit| / max |explicit| allowed, per compute dtype (fp16 and
#: bf16 keep 11 and 8 mantissa bits; both forms round differently)

from bevt_mm.analysis.attention import window_attention_check
from bevt_mm.utils.stack_warnings import ignore_stack_noise


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='SDPA vs explicit window attention (forward and backward), one window size')
    p.add_argument('--window', type=int, nargs=3, default=[8, 7, 7], metavar=('D', 'H', 'W'),
                   help="window (default: the recipe's 8 7 7)")
    p.add_argument('--dim', type=int, default=128, help='channels (Swin-B stage 0: 128)')
    p.add_argument('--heads', type=int, default=4, help='heads (Swin-B stage 0: 4)')
    p.add_argument('--windows', type=int, default=64, help='windows in the batch')
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', default='float32', choices=['float32', 'float16', 'bfloat16'])
    p.add_argument('--json', default=None, help='write the result as JSON here')
    return p.parse_args(argv)


def main(argv=None) -> int:
    ignore_stack_noise()
    args = parse_args(argv)
    res = window_attention_check(args.window, args.dim, args.heads, args.windows,
                                 device=args.device, dtype=getattr(torch, args.dtype))
    diffs = ', '.join(f'{k} {v:.2e}' for k, v in res['rel_diff'].items())
    print(f"window {res['window']} ({res['tokens']} tokens, {res['windows']} windows), "
          f"{res['dtype']}: max relative difference {diffs}; tolerance {res['tolerance']:.0e}: "
          f"{'passed' if res['passed'] else 'FAILED'}")
    print(f"SDPA backends: {res['backends']}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=1)
    return 0 if res['passed'] else 1


if __name__ == '__main__':
    raise SystemExit(main())
