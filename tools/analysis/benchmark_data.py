#!/usr/bin/env python
"""Data pipeline throughput of a BEVT pretraining config, one worker.

Builds the config's video and image datasets (on the config's files, or on
small generated toy clips and JPEGs when they are absent), times each
pipeline per sample and per transform (decode, augment, tokenizer view,
masks, packing), and the mask generators alone. ``benchmark.py`` runs the
same code and compares it with the training step.

Example::

    python tools/analysis/benchmark_data.py configs/bevt/joint_swin_b.py --iters 8
"""
import argparse
import json
import tempfile
from typing import Any, Dict

from mmengine.config import Config, DictAction

from bevt_mm.analysis.measure import quiet_mmengine
from bevt_mm.analysis.step_setup import check_pretrain_config, prepare_config

from bevt_mm.analysis.data_timing import data_pipelines, time_masks, time_pipeline
from bevt_mm.utils.stack_warnings import ignore_stack_noise


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='data pipeline throughput of a BEVT config')
    p.add_argument('config', help='BEVT pretraining config')
    p.add_argument('--frames', type=int, default=None, help='frames per clip (default: config)')
    p.add_argument('--size', type=int, default=None, help='crop size (default: config)')
    p.add_argument('--iters', type=int, default=8, help='samples timed per pipeline')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   help='config overrides, key=value')
    p.add_argument('--json', default=None, help='write the results as JSON here')
    return p.parse_args(argv)


def main(argv=None) -> Dict[str, Any]:
    ignore_stack_noise()
    args = parse_args(argv)
    import bevt_mm  # noqa: F401  (registers the BEVT transforms)
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    check_pretrain_config(Config.fromfile(args.config), args.config)
    cfg = prepare_config(args.config, args.cfg_options, frames=args.frames, size=args.size)
    quiet_mmengine()
    frames, size, view = cfg.benchmark_frames, cfg.benchmark_size, cfg.benchmark_view
    res: Dict[str, Any] = dict(config=args.config, frames=frames, size=size, view=view)
    with tempfile.TemporaryDirectory(prefix='bevt_bench_data_') as tmp:
        dsets = data_pipelines(cfg, frames, size, view, tmp)
        res['notes'] = dsets['notes']
        for name in ('video', 'image'):
            if name in dsets:
                res[name] = time_pipeline(dsets[name], args.iters)
    res['masks'] = time_masks(cfg, frames, size, view)
    print(f'{args.config}: {frames} frames at {size} px, tokenizer view {view} px, one worker')
    for name in ('video', 'image'):
        if name in res:
            r = res[name]
            print(f"  {name}: {r['per_sample_ms']:.1f} ms per sample "
                  f"({r['samples_per_s']:.1f} samples/s)")
            for t, ms in r['transforms_ms'].items():
                print(f'    {t:<24} {ms:8.2f} ms')
    for k, us in res['masks'].items():
        print(f'  {k}: {us:.1f} us')
    for note in res['notes']:
        print(f'note: {note}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=1)
        print(f'JSON written to {args.json}')
    return res


if __name__ == '__main__':
    main()
