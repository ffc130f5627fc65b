#!/usr/bin/env python
"""Check a CUDA setup for BEVT: mixed-precision training, SDPA window attention,
tokenizer ids under autocast, and the recipe's step time/memory/utilization.
Under 5 minutes on one recent GPU.

Examples::

    python tools/analysis/cuda_check.py --json cuda_check.json
    # with the DALL-E weights (else random weights of the same architecture)
    python tools/analysis/cuda_check.py --tokenizer data/tokenizers/dalle_encoder.pkl
    # the same code at toy sizes on the CPU (a dry run)
    python tools/analysis/cuda_check.py --device cpu --preset tiny

:func:`run_cuda_check` runs, on one device:

1. ``amp``: the toy joint config trained a few steps on one fixed batch with
   ``AmpOptimWrapper`` in fp16 and in bf16 (``amp_check.py``): finite,
   falling losses, loss scale finite and no skipped step in the second half;
2. ``attention``: window attention through SDPA against the explicit form at
   the recipe's windows (8x7x7 pretraining, 16x7x7 fine-tuning, 1x7x7 image
   stream) in fp32, fp16 and bf16: outputs and gradients (input, qkv, the
   relative position bias table) within ``attention_check.TOLERANCES``,
   and which SDPA kernels run (``attention_check.py``);
3. ``tokenizer``: how often the DALL-E tokenizer's ids under fp16/bf16
   autocast equal its fp32 ids (``tokenizer_agreement.py``; random weights
   when no file is given);
4. ``benchmark``: ``benchmark.run_benchmark`` at the recipe size
   (Swin-B, 8 clips x 16x224x224 + 64 images, fp16) with and without
   ``with_cp``; utilization against the bf16 and fp16 matmul rates measured
   in the same run.

The ``recipe`` preset is the CUDA check (under 5 minutes on one recent GPU);
``tiny`` runs the same code at toy sizes on any device (tests, CPU dry runs).
"""
import argparse
import json
import os.path as osp
import platform
import sys
import time
from typing import Any, Dict, Optional, Sequence

import torch

from bevt_mm.analysis.amp import amp_training_check
from bevt_mm.analysis.attention import window_attention_check
from bevt_mm.analysis.measure import device_name, matmul_rate, quiet_mmengine
from bevt_mm.analysis.benchmark import run_benchmark
from bevt_mm.analysis.tokenizer_agreement import build_dalle, smooth_images, tokenizer_agreement
from bevt_mm.utils.stack_warnings import ignore_stack_noise

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


PARTS = ('amp', 'attention', 'tokenizer', 'benchmark')

#: sizes of each part. recipe: Swin-B stage 0 (128 channels, 4 heads) at the
#: recipe's windows (configs/bevt/joint_swin_b.py, finetune_swin_b_*.py);
#: DALL-E as released (n_hid 256, 8192 codes, 112x112 views)
PRESETS: Dict[str, Dict[str, Any]] = dict(
    recipe=dict(
        amp=dict(config='configs/toy/toy_joint_swin.py', iters=20),
        attention=dict(windows=[(8, 7, 7), (16, 7, 7), (1, 7, 7)], dim=128, num_heads=4,
                       count=64),
        tokenizer=dict(arch={}, images=64, size=112),
        benchmark=dict(config='configs/bevt/joint_swin_b.py', iters=3, warmup=1, kwargs={})),
    tiny=dict(
        amp=dict(config='configs/toy/toy_joint_swin.py', iters=4,
                 kwargs=dict(batch_videos=1, batch_images=1,
                             arch=dict(embed_dims=8, depths=[1, 1, 1, 1],
                                       num_heads=[1, 1, 1, 1]))),
        attention=dict(windows=[(2, 3, 3), (4, 3, 3), (1, 3, 3)], dim=16, num_heads=2,
                       count=8),
        tokenizer=dict(arch=dict(n_hid=64, vocab_size=512, n_blk_per_group=1), images=2,
                       size=32),
        benchmark=dict(config='configs/toy/toy_joint_swin.py', iters=1, warmup=0,
                       kwargs=dict(batch_videos=1, batch_images=1, frames=4, size=32,
                                   arch=dict(embed_dims=8, depths=[1, 1, 1, 1],
                                             num_heads=[1, 1, 1, 1])))),
)


def _dtypes(device: torch.device):
    """Mixed-precision dtypes to check: fp16 and bf16 on CUDA, bf16 elsewhere."""
    if device.type == 'cuda':
        return ['fp16', 'bf16']
    return ['bf16']


def _error(err: BaseException) -> Dict[str, str]:
    return dict(error=f'{type(err).__name__}: {str(err).splitlines()[0][:300]}')


def run_cuda_check(device: str = 'cuda', preset: str = 'recipe',
                   parts: Sequence[str] = ('amp', 'attention', 'tokenizer', 'benchmark'),
                   tokenizer_checkpoint: Optional[str] = None) -> Dict[str, Any]:
    """Run the parts; see the module docstring. Returns a JSON-able dict with
    one entry per part and ``passed`` (every correctness check passed)."""
    import bevt_mm  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    quiet_mmengine()
    p = PRESETS[preset]
    dev = torch.device(device)
    res: Dict[str, Any] = dict(device=device_name(dev), torch=torch.__version__,
                               cuda=torch.version.cuda, preset=preset,
                               python=platform.python_version(), seconds={})
    for part in parts:
        start = time.perf_counter()
        if part == 'amp':
            res['amp'] = []
            for amp in _dtypes(dev):
                try:
                    res['amp'].append(amp_training_check(
                        osp.join(ROOT, p['amp']['config']), amp=amp, device=device,
                        iters=p['amp']['iters'], **p['amp'].get('kwargs', {})))
                except Exception as err:  # noqa: BLE001 - reported
                    res['amp'].append(dict(amp=amp, passed=False, **_error(err)))
        elif part == 'attention':
            res['attention'] = []
            a = p['attention']
            for window in a['windows']:
                for dtype in [torch.float32] + [
                        dict(fp16=torch.float16, bf16=torch.bfloat16)[d] for d in _dtypes(dev)]:
                    try:
                        res['attention'].append(window_attention_check(
                            window, dim=a['dim'], num_heads=a['num_heads'], windows=a['count'],
                            shifted=window[0] > 1, device=device, dtype=dtype))
                    except Exception as err:  # noqa: BLE001 - reported
                        res['attention'].append(dict(window=list(window), passed=False,
                                                     dtype=str(dtype), **_error(err)))
        elif part == 'tokenizer':
            t = p['tokenizer']
            tok = build_dalle(tokenizer_checkpoint, **t['arch'])
            res['tokenizer'] = dict(
                weights=tokenizer_checkpoint if tokenizer_checkpoint and osp.isfile(
                    tokenizer_checkpoint) else 'random (no file given)',
                **tokenizer_agreement(tok, smooth_images(t['images'], t['size']), device,
                                      [dict(fp16=torch.float16, bf16=torch.bfloat16)[d]
                                       for d in _dtypes(dev)]))
        elif part == 'benchmark':
            res['benchmark'] = _benchmark(p['benchmark'], dev)
        else:
            raise ValueError(f'unknown part {part!r}')
        res['seconds'][part] = time.perf_counter() - start
    checks = [r.get('passed', False) for r in res.get('amp', []) + res.get('attention', [])]
    res['passed'] = all(checks)
    return res


def _benchmark(b: Dict[str, Any], dev: torch.device) -> Dict[str, Any]:
    amp = 'fp16' if dev.type == 'cuda' else 'none'
    out: Dict[str, Any] = dict(matmul={})
    for name, dtype in (('fp16', torch.float16), ('bf16', torch.bfloat16)):
        try:
            out['matmul'][name] = matmul_rate(dev, dtype, n=None if dev.type == 'cuda' else 256)
        except RuntimeError as err:
            out['matmul'][name] = _error(err)
    for cp in (False, True):
        key = 'with_cp' if cp else 'no_cp'
        try:
            r = run_benchmark(osp.join(ROOT, b['config']), device=str(dev), amp=amp,
                              iters=b['iters'], warmup=b['warmup'], with_cp=cp,
                              attention=False, data=False, **b['kwargs'])
        except Exception as err:  # noqa: BLE001 - e.g. out of memory: reported
            out[key] = _error(err)
            if dev.type == 'cuda':
                torch.cuda.empty_cache()
            continue
        step = r['times']['step']['median_s']
        flops = r['flops']['step']
        out[key] = dict(
            config=b['config'], arch=r['arch'], amp=amp, batch_videos=r['batch_videos'],
            batch_images=r['batch_images'], frames=r['frames'], size=r['size'],
            step_s=step, step_no_tokenizer_s=r['times']['step_no_tokenizer']['median_s'],
            clips_per_s=r['throughput']['clips_per_s'],
            images_per_s=r['throughput']['images_per_s'],
            peak_memory_bytes=r['memory']['peak_bytes'], memory_kind=r['memory']['kind'],
            flops_step=flops, flops_per_s=flops / step,
            utilization={k: flops / step / v for k, v in out['matmul'].items()
                         if isinstance(v, float)},
            ratios=r['ratios'], notes=r['notes'])
    return out


def format_report(res: Dict[str, Any]) -> str:
    """The result as Markdown tables."""
    lines = [f"BEVT CUDA check ({res['preset']}): {res['device']}, torch {res['torch']}, "
             f"CUDA {res['cuda']} -> {'PASSED' if res['passed'] else 'FAILED'}", '']
    if 'amp' in res:
        lines += ['| amp | wrapper | first loss | last loss | final scale | skipped steps | '
                  'finite | falling | scale ok | passed |',
                  '|---|---|---:|---:|---:|---|---|---|---|---|']
        for r in res['amp']:
            if 'error' in r:
                lines.append(f"| {r['amp']} | error: {r['error']} |||||||| no |")
                continue
            scale = r['loss_scales'][-1]
            skipped = [i for i, s in enumerate(r['skipped']) if s]
            lines.append(
                f"| {r['amp']} | {r['wrapper']} | {r['losses'][0]:.3f} | {r['losses'][-1]:.3f} | "
                f"{'-' if scale is None else f'{scale:g}'} | {skipped or 'none'} | "
                f"{r['finite']} | {r['falling']} | {r['scale_ok']} | {r['passed']} |")
        lines.append('')
    if 'attention' in res:
        lines += ['| window | tokens | dtype | out | grad x | grad qkv | grad bias table | '
                  'tolerance | passed | SDPA kernel (default) | backends that run |',
                  '|---|---:|---|---:|---:|---:|---:|---:|---|---|---|']
        for r in res['attention']:
            win = 'x'.join(str(w) for w in r['window'])
            if 'error' in r:
                lines.append(f"| {win} | | {r['dtype']} | error: {r['error']} |||||| no |||")
                continue
            d = r['rel_diff']
            ok = [k for k, v in r['backends']['each'].items() if v == 'ok']
            lines.append(
                f"| {win} | {r['tokens']} | {r['dtype']} | {d['out']:.1e} | {d['grad_x']:.1e} | "
                f"{d['grad_qkv']:.1e} | {d['grad_bias_table']:.1e} | {r['tolerance']:g} | "
                f"{r['passed']} | {', '.join(r['backends']['default'])} | {', '.join(ok)} |")
        lines += ['(max |SDPA - explicit| / max |explicit|)', '']
    if 'tokenizer' in res:
        t = res['tokenizer']
        lines.append(f"tokenizer ids under autocast equal to fp32 ({t['tokens']} ids, "
                     f"{t['images']} views {t['view'][0]}x{t['view'][1]}, weights "
                     f"{t['weights']}): " + ', '.join(
                         f"{k} {v['agreement']:.2%} (views all equal {v['images_all_equal']:.0%})"
                         for k, v in t.items() if isinstance(v, dict)))
        lines.append('')
    if 'benchmark' in res:
        b = res['benchmark']
        lines.append('matmul: ' + ', '.join(
            f"{k} {v / 1e12:.3g} TFLOP/s" if isinstance(v, float) else f"{k} {v['error']}"
            for k, v in b['matmul'].items()))
        lines += ['', '| with_cp | step s | without tokenizer s | clips/s | images/s | '
                  'peak memory GiB | TFLOP/s | utilization fp16 | utilization bf16 |',
                  '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
        for key in ('no_cp', 'with_cp'):
            r = b.get(key)
            if r is None:
                continue
            if 'error' in r:
                lines.append(f"| {key} | error: {r['error']} ||||||||")
                continue
            u = r['utilization']
            lines.append(
                f"| {key} | {r['step_s']:.3f} | {r['step_no_tokenizer_s']:.3f} | "
                f"{r['clips_per_s']:.2f} | {r['images_per_s']:.1f} | "
                f"{r['peak_memory_bytes'] / 2**30:.2f} | {r['flops_per_s'] / 1e12:.3g} | "
                f"{u.get('fp16', float('nan')):.1%} | {u.get('bf16', float('nan')):.1%} |")
        first = next((b[k] for k in ('no_cp', 'with_cp') if 'error' not in b.get(k, {})
                      and k in b), None)
        if first:
            lines.append(f"({first['arch']}, {first['batch_videos']} clips x {first['frames']}x"
                         f"{first['size']}^2 + {first['batch_images']} images, amp "
                         f"{first['amp']}; {first['config']})")
    lines.append('seconds: ' + ', '.join(f'{k} {v:.0f}' for k, v in res['seconds'].items()))
    return '\n'.join(lines)


def write_report(res: Dict[str, Any], json_path: str, table_path: Optional[str] = None) -> str:
    """Write the JSON (and the Markdown table next to it); return the table."""
    table = format_report(res)
    with open(json_path, 'w') as f:
        json.dump(res, f, indent=1)
    table_path = table_path or osp.splitext(json_path)[0] + '.md'
    with open(table_path, 'w') as f:
        f.write(table + '\n')
    return table


__all__: Sequence[str] = ['run_cuda_check', 'format_report', 'write_report', 'PRESETS']


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
    ignore_stack_noise()
    args = parse_args(argv)
    import torch
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        print('cuda_check: no CUDA device available (torch.cuda.is_available() is False); '
              'nothing checked. Run it on a GPU machine, or use --device cpu for a dry run.')
        return 0
    preset = args.preset or ('recipe' if args.device.startswith('cuda') else 'tiny')
    res = run_cuda_check(args.device, preset, args.parts, args.tokenizer)
    print(write_report(res, args.json))
    print(f'JSON written to {args.json}')
    return 0 if res['passed'] else 1


if __name__ == '__main__':
    sys.exit(main())
