#!/usr/bin/env python
"""The BEVT stream ablation at toy scale: image only, video only, joint, random init.

Same number of optimizer updates per variant, several seeds; every encoder is
evaluated by the k-NN and linear probes and by label-scarce fine-tuning on
toy-spatial and toy-temporal (see ``bevt_mm/analysis/toy_ablation.py``).
Makes the toy data and the toy tokenizer first when they are missing. Writes
``results.json``, ``table.md`` and ``ablation.png`` to ``--work-dir``. For the
variants with videos it also measures whether the video stream uses time
(``tools/analysis/frame_order.py``'s accuracies and copy baselines).

    python tools/analysis/toy_ablation.py --work-dir work_dirs/ablation
"""
import argparse
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from bevt_mm.analysis.toy_ablation import FINETUNE_CLIPS, VARIANTS, run_ablation  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='BEVT stream ablation at toy scale')
    p.add_argument('--data-root', default='data/toy_ablation',
                   help='toy data (made here when missing; its own folder, because the '
                   "demo's data/toy has 80 val videos per set and this tool's default 400)")
    p.add_argument('--work-dir', default='work_dirs/ablation')
    p.add_argument('--tokenizer', default=None,
                   help='toy VQ-VAE weights (default: train one into the work dir)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--iters', type=int, default=400, help='optimizer updates per variant')
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--pretrain-videos', type=int, default=200,
                   help='unlabeled training videos per set for pretraining')
    p.add_argument('--probe-train', type=int, default=200,
                   help='labeled training videos per set for the probes')
    p.add_argument('--per-class', type=int, default=8,
                   help='labeled videos per class for label-scarce fine-tuning')
    p.add_argument('--finetune-epochs', type=int, default=25)
    p.add_argument('--finetune-clip', choices=list(FINETUNE_CLIPS), default='pretraining',
                   help='clips of label-scarce fine-tuning: the pretraining clip (8x2 at 64 px, '
                   "as the probes) or the fine-tuning config's own (16x1 at 32 px)")
    p.add_argument('--videos', type=int, nargs=2, default=[800, 400], metavar=('TRAIN', 'VAL'),
                   help='toy videos per set when the data is made here (400 val: one '
                   'seed\'s top-1 at ~40 %% has a standard error of 2.4 points, 5.5 with 80)')
    p.add_argument('--images', type=int, nargs=2, default=[400, 100], metavar=('TRAIN', 'VAL'))
    p.add_argument('--tokenizer-steps', type=int, default=300)
    p.add_argument('--time-clips', type=int, default=200,
                   help='toy-temporal val clips on which the video stream\'s use of time is '
                   'measured (ordered / shuffled / context-swapped accuracy, copy baselines)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(osp.join(args.data_root, 'meta.json')):
        subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_toy_data.py'), '--out',
                        args.data_root, '--seed', '0', '--images', *map(str, args.images),
                        '--spatial', *map(str, args.videos), '--temporal',
                        *map(str, args.videos)], check=True)
    tokenizer = args.tokenizer or osp.join(args.work_dir, 'tokenizer', 'vqvae_toy.pth')
    if not osp.isfile(tokenizer):
        subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train_tokenizer.py'),
                        osp.join(args.data_root, 'images', 'train_list.txt'), '--data-root',
                        osp.join(args.data_root, 'images'), '--out', tokenizer, '--preset',
                        'toy', '--size', '32', '--steps', str(args.tokenizer_steps),
                        '--batch-size', '16', '--workers', '0', '--log-every', '100'],
                       check=True)
    results = run_ablation(args.data_root, args.work_dir, tokenizer, args.seeds, args.iters,
                           args.variants, args.pretrain_videos, args.probe_train,
                           args.per_class, args.finetune_epochs,
                           FINETUNE_CLIPS[args.finetune_clip], time_clips=args.time_clips)
    print()
    print(results['table'])
    print('\nvideo masked-token accuracy (%) on toy-temporal val clips:')
    print(results['time_table'])
    print(f"\n{results['seconds']:.0f} s; wrote {osp.join(args.work_dir, 'results.json')}, "
          f"{results['plot']}")
    return results


if __name__ == '__main__':
    main()
