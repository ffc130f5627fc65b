#!/usr/bin/env python
"""Check a CUDA setup for BEVT: mixed-precision training, SDPA window attention,
tokenizer ids under autocast, and the recipe's step time/memory/utilization
(see bevt_mm.analysis.cuda_check). Under 5 minutes on one recent GPU.

Examples::

    python tools/analysis/cuda_check.py --json cuda_check.json
    # with the DALL-E weights (else random weights of the same architecture)
    python tools/analysis/cuda_check.py --tokenizer data/tokenizers/dalle_encoder.pkl
    # the same code at toy sizes on the CPU (a dry run)
    python tools/analysis/cuda_check.py --device cpu --preset tiny
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

PARTS = ('amp', 'attention', 'tokenizer', 'benchmark')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='BEVT CUDA check')
    p.add_argument('--device', default='cuda', help='cuda (default) or cpu (dry run)')
    p.add_argument('--preset', default=None, choices=['recipe', 'tiny'],
                   help='sizes (default: recipe on cuda, tiny on cpu)')
    p.add_argument('--parts', nargs='+', default=list(PARTS), choices=PARTS)
    p.add_argument('--tokenizer', default=None, help='DALL-E weights (default: random)')
    p.add_argument('--json', default='cuda_check.json',
                   help='result JSON; the table goes next to it as .md')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        print('cuda_check: no CUDA device available (torch.cuda.is_available() is False); '
              'nothing checked. Run it on a GPU machine, or use --device cpu for a dry run.')
        return 0
    from bevt_mm.analysis.cuda_check import run_cuda_check, write_report
    preset = args.preset or ('recipe' if args.device.startswith('cuda') else 'tiny')
    res = run_cuda_check(args.device, preset, args.parts, args.tokenizer)
    print(write_report(res, args.json))
    print(f'JSON written to {args.json}')
    return 0 if res['passed'] else 1


if __name__ == '__main__':
    sys.exit(main())
