#!/usr/bin/env python
"""Frozen-encoder probes of checkpoints: k-NN and linear-probe top-1 side by side.

The recognizer CONFIG defines the features (its backbone, and its test
pipeline for the clips); each CHECKPOINT may be a BEVT pretraining checkpoint,
an exported backbone or a stock MMAction2 recognizer checkpoint;
``--random-init`` adds the untrained backbone. Pooled features of the train
and val lists are extracted once per checkpoint. k-NN: cosine similarity,
temperature-weighted votes as in DINO (k=20, T=0.07 by default); linear probe:
a linear layer on standardized features, AdamW lr 0.01, wd 1e-4, 300
full-batch steps, seeded. Writes ``probe.json`` and ``probe.md``.

Example (the toy demo's encoder vs random init on toy-spatial)::

    python tools/analysis/probe.py configs/toy/toy_finetune_swin_spatial.py \
        work_dirs/toy/pretrain/epoch_4.pth --random-init --out-dir work_dirs/probe

For each checkpoint (or random init) the recognizer of a config is built, its
backbone loaded (:func:`~bevt_mm.evaluation.load_encoder_weights`), and pooled features
of a labeled train list and val list are extracted once
(:func:`~bevt_mm.evaluation.extract_features`, the config's test pipeline); both probes
then run on the same features.
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

from bevt_mm.evaluation import DEFAULT_K, DEFAULT_TEMPERATURE

from bevt_mm.analysis.probe import run_probe
from bevt_mm.utils.stack_warnings import ignore_stack_noise


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='k-NN and linear probes of frozen encoders')
    p.add_argument('config', help='MMAction2 recognizer config (backbone + test pipeline)')
    p.add_argument('checkpoints', nargs='*', help='BEVT / exported backbone / recognizer '
                   'checkpoints')
    p.add_argument('--random-init', action='store_true',
                   help='also probe the backbone at random init (seeded)')
    p.add_argument('--train-list', help="labeled train list (default: the config's)")
    p.add_argument('--val-list', help="labeled val list (default: the config's)")
    p.add_argument('--data-prefix', help='video folder of both lists')
    p.add_argument('--k', type=int, default=DEFAULT_K, help='k-NN neighbours (DINO: 20)')
    p.add_argument('--temperature', type=float, default=DEFAULT_TEMPERATURE,
                   help='k-NN vote temperature (DINO: 0.07)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--src-window-size', type=int, nargs=3,
                   help='window of BEVT pretraining checkpoints if not the config\'s')
    p.add_argument('--out-dir', default='work_dirs/probe')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value pairs')
    args = p.parse_args(argv)
    if not args.checkpoints and not args.random_init:
        p.error('give at least one checkpoint or --random-init')
    return args


def main(argv=None):
    ignore_stack_noise()
    args = parse_args(argv)
    checkpoints = ([None] if args.random_init else []) + list(args.checkpoints)
    report = run_probe(args.config, checkpoints, args.train_list, args.val_list,
                       args.data_prefix, args.k, args.temperature, args.seed,
                       args.batch_size, args.cfg_options, args.src_window_size,
                       args.out_dir)
    print()
    print(report['table'])
    print(f"\nwrote {osp.join(args.out_dir, 'probe.json')}")
    return report


if __name__ == '__main__':
    main()
