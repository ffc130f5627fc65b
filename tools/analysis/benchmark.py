#!/usr/bin/env python
"""Benchmark a BEVT config's training step, its parts, the stock Swin baseline,
memory, FLOPs/utilization and the data pipeline.

Examples::

    # paper config, small enough for a CPU
    python tools/analysis/benchmark.py configs/bevt/joint_swin_b.py --arch tiny \
        --frames 8 --size 224 --batch-videos 1 --batch-images 4 --json bench.json
    # as-is on a GPU, fp16 like the recipe
    python tools/analysis/benchmark.py configs/bevt/joint_swin_b.py --device cuda --amp fp16 \
        --with-cp-compare --json bench_gpu.json

:func:`run_benchmark` builds the config's model and data pipelines and
measures, on one device (CPU, or CUDA with optional fp16/bf16 autocast):

* the full training step (data preprocessor, tokenizer, both backbone
  streams, decoders/classifier/loss, backward, optimizer step) and the same
  step without the tokenizer (target ids precomputed), and its parts:
  tokenizer, backbone forward+backward per stream, head (decoders,
  classifier, loss) forward+backward, optimizer step;
* the baseline: MMAction2's stock ``SwinTransformer3D`` forward+backward on
  the same clips (as shipped, explicit softmax attention), and the same
  network with our SDPA attention (``BEVTSwinTransformer3D.forward``); the
  images of the batch (if any) go through the backbone's plain image path;
* window attention, SDPA vs the explicit ``softmax(QK^T + B) V``
  (:func:`~bevt_mm.analysis.attention.attention_compare`) at the config's window on the
  stage shapes of the benchmarked clip (forward + backward, max abs difference of the
  outputs);
* peak memory: CUDA max allocated, or on CPU the peak resident set size
  sampled by a thread every 2 ms during the steps (and the increase over the
  resident size before the first step);
* FLOPs per step (counted formula, ``flops.py``) and the
  device's dense matmul rate measured in the same run, hence utilization;
* data pipeline throughput per worker (decode + augment + tokenizer view +
  masks + packing), per transform, and the mask generators alone
  (``benchmark_data.py``, also a script of its own);
* optionally (``with_cp_compare``) the step time and peak memory with and
  without activation checkpointing, each in a fresh process.

Timings are medians over warm iterations. All step variants are timed
round-robin (one iteration of each in turn), so that load changes on a
shared machine hit them alike.
"""
import argparse
import sys
from typing import Any, Dict, Sequence

from mmengine.config import Config, DictAction

from bevt_mm.analysis.measure import PeakRSS, dump_json, matmul_rate
from bevt_mm.analysis.step_setup import (NotPretrainConfigError, check_pretrain_config,
                                         check_swin_backbone, prepare_config)
from bevt_mm.analysis.attention import attention_compare


#: the order of the step parts in the table


# ------------------------------------------------------------------ report

from bevt_mm.analysis.benchmark import run_benchmark
from bevt_mm.utils.stack_warnings import ignore_stack_noise
def _ms(s: float) -> str:
    return f'{s * 1e3:9.1f}'


def format_table(res: Dict[str, Any]) -> str:
    """Markdown tables of a result of :func:`run_benchmark`."""
    lines = [f"BEVT benchmark: {res['config']}",
             f"device {res['device']}, torch {res['torch']}, threads {res['threads']}, "
             f"amp {res['amp']}, load avg {res['load_avg_start']} -> {res['load_avg_end']}",
             f"arch {res['arch']}, {res['batch_videos']} clips x {res['frames']}x{res['size']}"
             f"^2 + {res['batch_images']} images, tokenizer view {res['tokenizer_view']}, "
             f"with_cp {res['with_cp']}, median of {res['iters']} iterations"]
    lines += [f'note: {n}' for n in res['notes'] + res.get('data', {}).get('notes', [])]
    lines += ['', '| measurement | median ms | min ms | max ms |', '|---|---:|---:|---:|']
    for k, v in res['times'].items():
        lines.append(f"| {k} | {_ms(v['median_s'])} | {_ms(v['min_s'])} | {_ms(v['max_s'])} |")
    tp = res['throughput']
    lines += ['', f"throughput: {tp['clips_per_s']:.3f} clips/s + {tp['images_per_s']:.3f} "
              f"images/s (without tokenizer: {tp['clips_per_s_no_tokenizer']:.3f} + "
              f"{tp['images_per_s_no_tokenizer']:.3f})"]
    for k, v in res['ratios'].items():
        lines.append(f'ratio {k}: {v:.3f}')
    mem = res['memory']
    lines.append(f"memory ({mem['kind']}): peak {mem['peak_bytes'] / 2**20:.0f} MiB" + (
        f", +{mem['increase_over_pre_step_bytes'] / 2**20:.0f} MiB over the pre-step RSS"
        if 'increase_over_pre_step_bytes' in mem else ''))
    fl = res['flops']
    lines.append(f"FLOPs/step {fl['step'] / 1e9:.1f} G (without tokenizer "
                 f"{fl['step_no_tokenizer'] / 1e9:.1f} G); matmul {res['matmul']['dtype']} "
                 f"{res['matmul']['flops_per_s'] / 1e9:.1f} GFLOP/s; utilization " + ', '.join(
                     f'{k} {v:.1%}' for k, v in res['utilization'].items()))
    if 'attention' in res:
        lines += ['', '| stage | windows x tokens | heads x dim | shifted | explicit ms | '
                  'SDPA ms | speed-up | max abs diff |', '|---|---|---|---|---:|---:|---:|---:|']
        for r in res['attention']:
            lines.append(f"| {r['stage']} | {r['windows']} x {r['tokens']} {r['window']} | "
                         f"{r['heads']} x {r['dim']} | {r['shifted']} | {r['explicit_ms']:.1f} | "
                         f"{r['sdpa_ms']:.1f} | {r['speedup']:.2f} | {r['max_abs_diff']:.1e} |")
    if 'data' in res:
        d = res['data']
        lines += ['', '| data (one worker) | ms/sample | samples/s | slowest transforms (ms) |',
                  '|---|---:|---:|---|']
        for name in ('video', 'image'):
            if name in d:
                top = sorted(d[name]['transforms_ms'].items(), key=lambda kv: -kv[1])[:4]
                lines.append(f"| {name} | {d[name]['per_sample_ms']:.1f} | "
                             f"{d[name]['samples_per_s']:.1f} | "
                             + ', '.join(f'{k} {v:.1f}' for k, v in top) + ' |')
        lines.append('masks: ' + ', '.join(f'{k} {v:.1f}' for k, v in d['masks'].items()))
        lines.append(f"data at {d['workers']} workers: {d['batches_per_s_at_workers']:.2f} "
                     f"batches/s vs {d['steps_per_s']:.3f} steps/s (headroom "
                     f"{d['data_headroom']:.1f}x)")
    if 'with_cp_compare' in res:
        c = res['with_cp_compare']
        for k in ('no_cp', 'with_cp'):
            v = c[k]
            if 'error' in v:
                lines.append(f'{k}: error {v["error"]}')
                continue
            m = v['memory']
            lines.append(f"{k}: step without tokenizer {v['step_s'] * 1e3:.0f} ms, peak "
                         f"{m['peak_bytes'] / 2**20:.0f} MiB" + (
                             f" (+{m['increase_over_pre_step_bytes'] / 2**20:.0f} MiB "
                             'over pre-step RSS)' if 'increase_over_pre_step_bytes' in m
                             else ''))
        if 'memory_reduction' in c:
            lines.append(f"with_cp: memory ({c['memory_key']}) -{c['memory_reduction']:.1%}, "
                         f"time +{c['time_increase']:.1%}")
    return '\n'.join(lines)


__all__: Sequence[str] = ['run_benchmark', 'format_table', 'dump_json', 'matmul_rate',
                          'attention_compare', 'PeakRSS', 'prepare_config']


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
    ignore_stack_noise()
    import torch
    args = parse_args(argv)
    if args.arch and args.arch.lstrip().startswith('{'):
        import json
        args.arch = json.loads(args.arch)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    amp = args.amp or ('fp16' if device.startswith('cuda') else 'none')
    cfg = Config.fromfile(args.config)
    try:
        check_pretrain_config(cfg, args.config)
        check_swin_backbone(cfg, args.config)
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
