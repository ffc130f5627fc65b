#!/usr/bin/env python
"""Benchmark a BEVT config's training step, its parts, the stock Swin baseline,
memory, FLOPs/utilization and the data pipeline (see bevt_mm.analysis.benchmark).

Examples::

    # paper config, small enough for a CPU
    python tools/analysis/benchmark.py configs/bevt/joint_swin_b.py --arch tiny \\
        --frames 8 --size 224 --batch-videos 1 --batch-images 4 --json bench.json
    # as-is on a GPU, fp16 like the recipe
    python tools/analysis/benchmark.py configs/bevt/joint_swin_b.py --device cuda --amp fp16 \\
        --with-cp-compare --json bench_gpu.json
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

from bevt_mm.analysis.benchmark import dump_json, format_table, run_benchmark  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='BEVT training-step benchmark')
    p.add_argument('config')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   help='config overrides, key=value')
    p.add_argument('--iters', type=int, default=5, help='timed iterations (median)')
    p.add_argument('--warmup', type=int, default=2, help='warm-up iterations')
    p.add_argument('--device', default=None, help='cpu | cuda (default: cuda if available)')
    p.add_argument('--amp', default=None, choices=['none', 'fp16', 'bf16'],
                   help='autocast dtype (default: fp16 on cuda, none on cpu)')
    p.add_argument('--batch-videos', type=int, default=None,
                   help='clips per step (default: the config videos_per_gpu)')
    p.add_argument('--batch-images', type=int, default=None,
                   help='images per step (default: the config images_per_gpu)')
    p.add_argument('--frames', type=int, default=None, help='frames per clip (default: config)')
    p.add_argument('--size', type=int, default=None, help='crop size (default: config)')
    p.add_argument('--arch', default=None,
                   help='backbone arch override: tiny, small, base or a JSON dict')
    p.add_argument('--with-cp', action='store_true', help='benchmark with with_cp=True')
    p.add_argument('--with-cp-compare', action='store_true',
                   help='also time/measure with and without with_cp, each in a fresh process')
    p.add_argument('--data-workers', type=int, default=4,
                   help='workers per GPU assumed for the data-vs-step comparison')
    p.add_argument('--data-iters', type=int, default=8, help='samples timed per pipeline')
    p.add_argument('--no-data', action='store_true', help='skip the data pipeline')
    p.add_argument('--no-attention', action='store_true', help='skip SDPA vs explicit')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (on a shared, loaded CPU 1 thread is often faster: '
                   'OpenMP threads wait for each other)')
    p.add_argument('--json', default=None, help='write the results as JSON here')
    return p.parse_args(argv)


def main(argv=None):
    import torch
    args = parse_args(argv)
    if args.arch and args.arch.lstrip().startswith('{'):
        import json
        args.arch = json.loads(args.arch)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    amp = args.amp or ('fp16' if device.startswith('cuda') else 'none')
    from mmengine.config import Config
    from bevt_mm.analysis.bench_config import NotPretrainConfigError, check_pretrain_config
    try:
        check_pretrain_config(Config.fromfile(args.config), args.config)
    except NotPretrainConfigError as err:
        print(f'benchmark.py: {err}', file=sys.stderr)
        raise SystemExit(2)
    res = run_benchmark(
        args.config, cfg_options=args.cfg_options, device=device, amp=amp, iters=args.iters,
        warmup=args.warmup, batch_videos=args.batch_videos, batch_images=args.batch_images,
        frames=args.frames, size=args.size, arch=args.arch,
        with_cp=True if args.with_cp else None, with_cp_compare=args.with_cp_compare,
        data_workers=args.data_workers, data_iters=args.data_iters,
        attention=not args.no_attention, data=not args.no_data, threads=args.threads)
    res['command'] = ' '.join(['python', 'tools/analysis/benchmark.py'] + list(
        sys.argv[1:] if argv is None else argv))
    print(format_table(res))
    if args.json:
        dump_json(res, args.json)
        print(f'JSON written to {args.json}')
    return res


if __name__ == '__main__':
    main()
