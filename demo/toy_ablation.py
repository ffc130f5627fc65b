#!/usr/bin/env python
"""The BEVT stream ablation at toy scale: image only, video only, joint, random init.

Same number of optimizer updates per variant, several seeds; every encoder is
evaluated by the k-NN and linear probes and by label-scarce fine-tuning on
toy-spatial and toy-temporal (set-up below). Makes the toy data and the toy tokenizer first when they are missing. Writes
``results.json``, ``table.md`` and ``ablation.png`` to ``--work-dir``. For the
variants with videos it also measures whether the video stream uses time
(``tools/analysis/frame_order.py``'s accuracies and copy baselines).

    python demo/toy_ablation.py --work-dir work_dirs/ablation

Each variant pretrains ``configs/toy/toy_joint_swin.py`` for the same number
of optimizer updates with another batch composition of the
``DualDatasetSampler`` (joint: 4 videos + 8 images per step; video only: 4
videos; image only: 8 images), plus ``random`` (no pretraining). Every
encoder is evaluated on toy-spatial and toy-temporal by

* the k-NN and linear probes (:mod:`bevt_mm.evaluation`) on frozen
  features of the pretraining clips (8 frames, interval 2, 64 px), and
* label-scarce fine-tuning (``label_scarce.py``):
  the toy fine-tuning recipe on ``per_class`` labeled videos per class, at the
  pretraining clip (:data:`FINETUNE_CLIP`, as the probes) or at the recipe's
  own clip (16x1 at 32 px; ``finetune_clip=None``),

for each seed; the table gives the mean and the sample standard deviation
over seeds. For the variants with a video stream it also measures whether
that stream uses time (``tools/analysis/frame_order.py``
on toy-temporal val clips: masked-token accuracy on ordered, shuffled and
context-swapped clips, and the copy baselines).
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from bevt_mm.evaluation import TOY_PRETRAIN_CLIP, backbone_state_dict
from bevt_mm.analysis.frame_order import frame_order_gap
from bevt_mm.analysis.label_scarce import (FINETUNE_CLIP, few_per_class, finetune_config,
                                           label_scarce_top1, set_clip)
from bevt_mm.analysis.probe import run_probe
from bevt_mm.utils.stack_warnings import ignore_stack_noise


ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRETRAIN_CFG = osp.join(ROOT, 'configs', 'toy', 'toy_joint_swin.py')
FINETUNE_CFG = osp.join(ROOT, 'configs', 'toy', 'toy_finetune_swin_{}.py')
SETS = ('spatial', 'temporal')
#: (videos, images) per optimizer update of each variant (joint = toy_joint_swin.py's 4 + 8)
VARIANTS = dict(image=(0, 8), video=(4, 0), joint=(4, 8), random=None)
#: ``--finetune-clip`` choices: the pretraining clip, or the fine-tuning config's own
FINETUNE_CLIPS = dict(pretraining=FINETUNE_CLIP, recipe=None)


def pretrain_config(variant: str, data_root: str, tokenizer: str, iters: int, seed: int,
                    work_dir: str, pretrain_list: str, cfg_options: Optional[dict] = None
                    ) -> Config:
    """toy_joint_swin.py as ``variant`` for ``iters`` updates (warm-up 10 %, then cosine)."""
    videos, images = VARIANTS[variant]
    cfg = Config.fromfile(PRETRAIN_CFG, format_python_code=False)  # (no yapf: see label_scarce)
    cfg.work_dir = work_dir
    cfg.model.target_generator.checkpoint = tokenizer
    vds, ids = cfg.train_dataloader.dataset.datasets
    vds.update(ann_file=pretrain_list, data_prefix=dict(video=data_root))
    ids.update(ann_file=osp.join(data_root, 'images', 'train_list.txt'),
               data_prefix=dict(img=osp.join(data_root, 'images')))
    cfg.train_dataloader.sampler.update(videos_per_gpu=videos, images_per_gpu=images,
                                        epoch_length='max')
    cfg.train_dataloader.update(batch_size=videos + images, num_workers=0,
                                persistent_workers=False)
    cfg.train_cfg = dict(type='ResumableIterBasedTrainLoop', max_iters=iters)
    warm = max(1, iters // 10)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=warm),
        dict(type='CosineAnnealingLR', T_max=iters - warm, eta_min=0, by_epoch=False,
             begin=warm, end=iters)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iters,
                                        max_keep_ckpts=1)
    cfg.log_processor = dict(type='LogProcessor', window_size=10, by_epoch=False)
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'ProbeHook']
    cfg.randomness = dict(seed=seed)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _pretrain(cfg: Config) -> str:
    """Train ``cfg`` and return its last checkpoint; a finished run in its work dir is reused."""
    from mmengine.runner import Runner
    done = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if osp.isfile(done):
        print(f'[ablation] reusing {done}', flush=True)
        return done
    runner = Runner.from_cfg(cfg)
    runner.train()
    with open(osp.join(cfg.work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def _inflate_image_stream(ckpt: str, out: str) -> str:
    """An image-only checkpoint as the video model the paper initializes from it.

    Image-only pretraining never trains the 3D ``patch_embed`` (videos use it,
    images use ``patch_embed_2d``); :func:`image_to_joint_checkpoint` inflates
    the trained 2D patch embedding into it, as for the paper's image-stream
    initialization. Without this the exported video encoder starts from a
    random patch embedding.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    from bevt_mm.utils.checkpoint import image_to_joint_checkpoint
    cfg = Config.fromfile(PRETRAIN_CFG).model.backbone
    sd = image_to_joint_checkpoint(CheckpointLoader.load_checkpoint(ckpt, map_location='cpu'),
                                   window_size=tuple(cfg.window_size),
                                   patch_size=tuple(cfg.patch_size))
    torch.save(dict(state_dict=sd), out)
    return out


def _head_list(ann_file: str, out: str, n: Optional[int]) -> str:
    from bevt_mm.datasets.ann_list import read_list_lines  # Windows lists: BOM, CRLF
    lines = [line + '\n' for line in read_list_lines(ann_file) if line.strip()]
    with open(out, 'w') as f:
        f.writelines(lines[:n] if n else lines)
    return out


def run_ablation(data_root: str, work_dir: str, tokenizer: str, seeds: Sequence[int] = (0, 1, 2),
                 iters: int = 400, variants: Sequence[str] = tuple(VARIANTS),
                 pretrain_videos: int = 200, probe_train: int = 200, per_class: int = 8,
                 finetune_epochs: int = 25,
                 finetune_clip: Optional[Tuple[int, int, Tuple[int, int]]] = FINETUNE_CLIP,
                 pretrain_options: Optional[dict] = None,
                 finetune_options: Optional[dict] = None, time_clips: int = 200) -> Dict:
    """Pretrain every variant with every seed, probe and fine-tune; write results.

    Args:
        data_root (str): ``tools/make_toy_data.py`` output (images, spatial, temporal).
        work_dir (str): Where runs, ``results.json``, ``table.md`` and ``ablation.png`` go.
        tokenizer (str): The toy VQ-VAE weights (``tools/train_tokenizer.py --preset toy``).
        seeds (Sequence[int]): Seeds (pretraining, random init, fine-tuning).
        iters (int): Optimizer updates of every pretraining variant.
        variants (Sequence[str]): Subset of :data:`VARIANTS`.
        pretrain_videos (int): Training videos per set in the (unlabeled) pretraining list.
        probe_train (int): Labeled training videos per set for the probes (first N).
        per_class (int): Labeled videos per class for label-scarce fine-tuning.
        finetune_epochs (int): Epochs of label-scarce fine-tuning.
        finetune_clip (tuple, optional): ``(clip_len, frame_interval, (h, w))``
            of label-scarce fine-tuning; None keeps the fine-tuning config's clip.
        pretrain_options, finetune_options (dict, optional): Config overrides.
        time_clips (int): Toy-temporal val clips (the first N) on which the
            video stream's use of time is measured (variants with videos).

    Returns:
        dict: ``runs`` (one row per variant, seed and set; the toy-temporal
        row of a variant with videos has ``video_stream``: masked-token
        accuracy % ``ordered``, ``shuffled``, ``context_swapped`` and the copy
        baselines ``most_common_code``, ``nearest_unmasked_frame``), ``table``
        and ``time_table``.
    """
    import bevt_mm  # noqa: F401
    os.makedirs(work_dir, exist_ok=True)
    lists = osp.join(work_dir, 'lists')
    os.makedirs(lists, exist_ok=True)
    pretrain_list = osp.join(lists, 'pretrain_videos.txt')
    with open(pretrain_list, 'w') as out:
        for kind in SETS:
            with open(osp.join(data_root, kind, 'train_list.txt')) as f:
                rows = [line for line in f if line.strip()][:pretrain_videos]
            out.writelines(f'{kind}/{line}' for line in rows)
    labeled = {}
    for kind in SETS:
        train = osp.join(data_root, kind, 'train_list.txt')
        labeled[kind] = dict(
            probe=_head_list(train, osp.join(lists, f'{kind}_probe_train.txt'), probe_train),
            scarce=few_per_class(train, osp.join(lists, f'{kind}_{per_class}_per_class.txt'),
                                 per_class),
            val=osp.join(data_root, kind, 'val_list.txt'), prefix=osp.join(data_root, kind))
    runs: List[Dict] = []
    start = time.time()
    for seed in seeds:
        for variant in variants:
            run_dir = osp.join(work_dir, f'{variant}_seed{seed}')
            ckpt, backbone, video_stream = None, None, None
            t0 = time.time()
            if VARIANTS[variant] is not None:
                cfg = pretrain_config(variant, data_root, tokenizer, iters, seed,
                                      osp.join(run_dir, 'pretrain'), pretrain_list,
                                      pretrain_options)
                ckpt = _pretrain(cfg)
                if variant == 'image':
                    ckpt = _inflate_image_stream(ckpt, osp.join(run_dir, 'inflated.pth'))
                backbone = osp.join(run_dir, 'backbone.pth')
                torch.save(backbone_state_dict(ckpt, (4, 4, 4))[0], backbone)
            pretrain_s = time.time() - t0
            if VARIANTS[variant] is not None and VARIANTS[variant][0]:  # has a video stream
                video_stream = _video_stream_time(cfg, ckpt, labeled['temporal'], time_clips,
                                                  seed)
            for kind in SETS:
                probe_cfg = Config.fromfile(FINETUNE_CFG.format(kind))
                probe_cfg.test_dataloader.dataset.pipeline = copy.deepcopy(TOY_PRETRAIN_CLIP)
                report = run_probe(probe_cfg, [ckpt], labeled[kind]['probe'],
                                   labeled[kind]['val'], labeled[kind]['prefix'], seed=seed,
                                   out_dir=osp.join(run_dir, f'probe_{kind}'), progress=False)
                ft = finetune_config(FINETUNE_CFG.format(kind), labeled[kind]['scarce'],
                                     labeled[kind]['val'], labeled[kind]['prefix'],
                                     osp.join(run_dir, f'finetune_{kind}'), backbone,
                                     finetune_epochs, seed)
                if finetune_clip is not None:
                    set_clip(ft, *finetune_clip)
                if finetune_options:
                    ft.merge_from_dict(finetune_options)
                r = report['results'][0]
                runs.append(dict(variant=variant, seed=seed, set=kind, knn_top1=r['knn_top1'],
                                 linear_top1=r['linear_top1'],
                                 finetune_top1=100 * label_scarce_top1(ft),
                                 pretrain_seconds=round(pretrain_s, 1)))
                if kind == 'temporal' and video_stream:
                    runs[-1]['video_stream'] = video_stream
                print(f'[ablation] {runs[-1]}', flush=True)
                with open(osp.join(work_dir, 'runs_so_far.json'), 'w') as f:
                    json.dump(runs, f, indent=1)  # an interrupted run keeps what it measured
    results = dict(settings=dict(seeds=list(seeds), iters=iters, variants=list(variants),
                                 batch={v: VARIANTS[v] for v in variants},
                                 pretrain_videos_per_set=pretrain_videos,
                                 probe_train_per_set=probe_train, per_class=per_class,
                                 finetune_epochs=finetune_epochs,
                                 finetune_clip=finetune_clip or 'recipe',
                                 knn=dict(k=20, T=0.07), time_clips=time_clips),
                   runs=runs, seconds=round(time.time() - start, 1))
    results['table'] = format_table(results)
    results['time_table'] = format_time_table(results)
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with open(osp.join(work_dir, 'table.md'), 'w') as f:
        f.write(results['table'] + '\n\n' + results['time_table'] + '\n')
    results['plot'] = plot_ablation(results, osp.join(work_dir, 'ablation.png'))
    return results


def _video_stream_time(cfg: Config, ckpt: str, temporal: Dict[str, str], clips: int,
                       seed: int) -> Dict[str, float]:
    """Masked-token accuracy (%) of the video stream on toy-temporal val clips, with baselines."""
    gap = frame_order_gap(cfg, ckpt, temporal['val'], temporal['prefix'], clips, seed)
    out = {name: gap[name]['acc'] for name in ('ordered', 'shuffled', 'context_swapped')
           if gap[name] is not None}
    out.update({k: gap['baselines'][k] for k in ('most_common_code', 'nearest_unmasked_frame')})
    return out


#: columns of :func:`format_time_table`: key of ``video_stream`` and header
TIME_COLUMNS = (('ordered', 'ordered'), ('shuffled', 'shuffled'),
                ('context_swapped', 'context swapped'),
                ('nearest_unmasked_frame', 'copy: nearest unmasked frame'),
                ('most_common_code', 'most common code'))


def format_time_table(results: Dict) -> str:
    """Markdown: video masked-token accuracy (%) on toy-temporal val, ``mean ± sd`` over seeds."""
    head = ['variant'] + [name for _, name in TIME_COLUMNS]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for variant in results['settings']['variants']:
        rows = [r['video_stream'] for r in results['runs']
                if r['variant'] == variant and 'video_stream' in r]
        if not rows:
            continue
        cells = [variant]
        for key, _ in TIME_COLUMNS:
            vals = [r[key] for r in rows if key in r]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cells.append(f'{statistics.mean(vals):.2f} ± {sd:.2f}' if vals else '-')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


METRICS = (('knn_top1', 'k-NN'), ('linear_top1', 'linear'), ('finetune_top1', 'fine-tune'))


def summary(results: Dict) -> Dict:
    """``{(variant, set, metric): (mean, sd)}`` over seeds (sd 0 for one seed)."""
    out = {}
    for variant in results['settings']['variants']:
        for kind in SETS:
            rows = [r for r in results['runs'] if r['variant'] == variant and r['set'] == kind]
            for key, _ in METRICS:
                vals = [r[key] for r in rows]
                if vals:
                    out[variant, kind, key] = (statistics.mean(vals),
                                               statistics.stdev(vals) if len(vals) > 1 else 0.0)
    return out


def format_table(results: Dict) -> str:
    """Markdown: variant x (set, metric), ``mean ± sd`` top-1 (%)."""
    stats = summary(results)
    head = ['variant'] + [f'{kind} {name}' for kind in SETS for _, name in METRICS]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for variant in results['settings']['variants']:
        cells = [variant]
        for kind in SETS:
            for key, _ in METRICS:
                m = stats.get((variant, kind, key))
                cells.append('-' if m is None else f'{m[0]:.1f} ± {m[1]:.1f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot_ablation(results: Dict, path: str) -> str:
    """Grouped bars (mean, sd error bars) per set and metric."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    stats = summary(results)
    variants = results['settings']['variants']
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    width = 0.8 / len(variants)
    for ax, kind in zip(axes, SETS):
        for i, variant in enumerate(variants):
            means = [stats.get((variant, kind, k), (0, 0))[0] for k, _ in METRICS]
            sds = [stats.get((variant, kind, k), (0, 0))[1] for k, _ in METRICS]
            xs = [j + (i - (len(variants) - 1) / 2) * width for j in range(len(METRICS))]
            ax.bar(xs, means, width, yerr=sds, capsize=2, label=variant)
        ax.set_xticks(range(len(METRICS)), [n for _, n in METRICS])
        ax.axhline(25, color='grey', lw=0.8, ls='--')
        ax.set_title(f'toy-{kind}')
    axes[0].set_ylabel('top-1 (%)')
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


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
    ignore_stack_noise()
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
