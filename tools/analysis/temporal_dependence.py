#!/usr/bin/env python
"""Temporal dependence of an MMAction2 recognizer (BEVT paper, Sec. 4).

Tests CONFIG/CHECKPOINT three times (normal, single-frame, shuffled frames),
prints a table of top-1, writes ``results.json``, ``table.md`` and a bar chart
``temporal_dependence.png`` to ``--out-dir``.

Example::

    python tools/analysis/temporal_dependence.py \\
        mmaction::recognition/swin/\\
swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py \\
        swin_tiny_k400.pth --out-dir work_dirs/td_swin_k400

    (the config name is one word; it is split here only for line length)
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402

from bevt_mm.analysis.temporal_dependence import (DEFAULT_SETTINGS,  # noqa: E402
                                                  run_temporal_dependence)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Test a recognizer with normal, single-frame and shuffled inputs')
    p.add_argument('config', help='config file (or mmaction::recognition/... path)')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--out-dir', default=None,
                   help='output folder (default: work_dirs/temporal_dependence/<config name>)')
    p.add_argument('--settings', nargs='+', default=list(DEFAULT_SETTINGS),
                   choices=list(DEFAULT_SETTINGS), help='settings to test (default: all)')
    p.add_argument('--single-frame-index', default='middle',
                   help="frame used by single_frame: middle | first | last | int")
    p.add_argument('--shuffle-seed', type=int, default=0, help='seed of the shuffled setting')
    p.add_argument('--scope', default='auto', choices=['auto', 'clip', 'all'],
                   help='per clip (auto when clip_len > 1) or over the whole sequence')
    p.add_argument('--no-plot', action='store_true', help='do not write the PNG')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value pairs')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    index = args.single_frame_index
    if index.lstrip('-').isdigit():
        index = int(index)
    transforms = dict(
        normal=None,
        single_frame=dict(type='SingleFrame', index=index, scope=args.scope),
        shuffled=dict(type='ShuffleFrames', seed=args.shuffle_seed, scope=args.scope))
    settings = {k: transforms[k] for k in args.settings}
    out_dir = args.out_dir or osp.join(
        'work_dirs', 'temporal_dependence', osp.splitext(osp.basename(args.config))[0])
    results = run_temporal_dependence(args.config, args.checkpoint, out_dir,
                                      cfg_options=args.cfg_options, settings=settings,
                                      plot=not args.no_plot)
    print()
    print(results['table'])
    print(f"\nwrote {osp.join(out_dir, 'results.json')}"
          + (f", {results['plot']}" if results.get('plot') else ''))
    return results


if __name__ == '__main__':
    main()
