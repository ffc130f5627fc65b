"""BEVT end to end on toy data, on CPU, in minutes (`make demo`).

Each step is an ordinary bevt_mm command, printed before it runs, so the demo
doubles as a walk-through of the real workflow:

1. make the toy data (images, toy-spatial and toy-temporal videos);
2. train the toy VQ-VAE tokenizer on the toy images;
3. BEVT joint image + video pretraining (toy_joint_swin.py), and a picture of its
   masks and predicted tokens (tools/analysis/visualize_masks.py -> <work-dir>/masks.png);
4. export the encoder for a stock MMAction2 Swin recipe;
5. fine-tune it on toy-spatial and toy-temporal (6 and 10 epochs);
6. test both, normally and with single-frame / shuffled inputs;
7. BEVT vs from scratch where labels are scarce: fine-tuning on 8 labeled
   videos per class from the BEVT encoder vs from scratch, for both sets
   (``--no-transfer`` skips it);
8. print one summary table (and write it to <work-dir>/summary.json), and a
   picture of masked-token accuracy and the k-NN probe over pretraining
   (<work-dir>/pretraining.png). The probe is the pretraining config's
   ProbeHook: its value before the first iteration is the random-init encoder,
   its last value the BEVT encoder (``probe.<set>.random`` / ``.bevt``).

Usage:
    python demo/toy_demo.py [--work-dir work_dirs/toy] [--data-root data/toy]
        [--backbone swin|timesformer] [--fresh]
        [--videos TRAIN VAL] [--images TRAIN VAL] [--pretrain-videos N]
        [--tokenizer-steps N] [--pretrain-epochs N] [--finetune-epochs N]
        [--no-transfer] [--label-scarce-per-class N] [--label-scarce-epochs N]

The defaults are the measured demo (docs/demo.md); the size options make it shorter
or longer (the test suite runs it with a few videos and one epoch).
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)
PY = sys.executable


def run(cmd: List[str], log: Dict[str, float], name: str) -> None:
    """Print and run one command; stop the demo with its exit code on failure."""
    print(f'\n[demo] {name}\n$ {" ".join(shlex.quote(c) for c in cmd)}', flush=True)
    start = time.time()
    proc = subprocess.run(cmd, cwd=ROOT)
    log[name] = round(time.time() - start, 1)
    if proc.returncode != 0:
        sys.exit(f'[demo] step "{name}" failed with exit code {proc.returncode}')
    print(f'[demo] {name}: {log[name]:.0f} s', flush=True)


Step = Tuple  # (name, command) or (name, command, names of the steps it runs after)


def run_parallel(steps: Sequence[Step], log: Dict[str, float], log_dir: str,
                 workers: Optional[int] = None) -> None:
    """Run independent commands side by side, one thread each, at most ``workers`` at a time.

    The small toy models keep two threads of one process busy less well than one
    thread each of two processes, so independent steps (the fine-tunings, the
    tests) share the cores this way. Each command is printed when it starts; its
    output goes to ``<log_dir>/<name>.log`` (printed if it fails, which stops the
    demo). A free core takes the first step in the given order whose ``after``
    steps have finished (put the longest first), so a test starts as soon as its
    fine-tuning is done instead of waiting for the slowest run.

    Args:
        steps: ``(name, command)`` or ``(name, command, after)`` tuples; ``command`` is a
            list of strings or a callable that returns one when the step starts (for
            paths that an earlier step writes), ``after`` names steps of ``steps``.
        log: Step name -> seconds, filled in.
        log_dir: Folder of the per-step logs.
        workers: Concurrent commands; default the CPU count.

    Raises:
        ValueError: When an ``after`` name is not a step of ``steps``.
    """
    os.makedirs(log_dir, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    pending = [(s[0], s[1], set(s[2]) if len(s) > 2 else set()) for s in steps]
    names = {name for name, *_ in pending}
    for name, _, after in pending:
        if after - names:
            raise ValueError(f'step "{name}" runs after unknown steps {sorted(after - names)}')
    running: list = []
    done: set = set()
    while pending or running:
        ready = [s for s in pending if s[2] <= done]
        if not ready and not running:
            raise ValueError(f'steps {[s[0] for s in pending]} wait on each other')
        while ready and len(running) < workers:
            step = ready.pop(0)
            pending.remove(step)
            name, cmd = step[0], step[1]() if callable(step[1]) else step[1]
            path = osp.join(log_dir, re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_') + '.log')
            print(f'\n[demo] {name} (log: {path})\n$ {" ".join(shlex.quote(c) for c in cmd)}',
                  flush=True)
            out = open(path, 'w')
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            running.append((name, proc, out, path, time.time()))
        time.sleep(0.2)
        for item in list(running):
            name, proc, out, path, started = item
            if proc.poll() is None:
                continue
            running.remove(item)
            out.close()
            log[name] = round(time.time() - started, 1)
            if proc.returncode != 0:
                for _, other, *_ in running:
                    other.kill()
                with open(path) as f:
                    print(''.join(f.readlines()[-40:]), file=sys.stderr)
                sys.exit(f'[demo] step "{name}" failed with exit code {proc.returncode} '
                         f'(log: {path})')
            done.add(name)
            print(f'[demo] {name}: {log[name]:.0f} s', flush=True)


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def scalars(work_dir: str) -> List[dict]:
    """mmengine's per-iteration scalar log of the newest run in ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        return []
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def first_last(rows: List[dict], key: str, start_logs: int = 1,
               end_logs: int = 10) -> Optional[tuple]:
    """Mean of ``key`` over the first ``start_logs`` and the last ``end_logs`` logged values.

    Each logged value is already mmengine's mean over the logging window (10
    iterations in the toy configs), so the defaults are the first 10 and the last
    100 iterations: per-batch masked-token accuracy of 4 clips swings by +-15
    points, and a whole epoch at the end keeps that noise out of the summary.
    """
    values = [r[key] for r in rows if key in r]
    if not values:
        return None
    head = values[:min(start_logs, len(values))]
    tail = values[-min(end_logs, len(values)):]
    return sum(head) / len(head), sum(tail) / len(tail)


#: toy video counts (train, val) per set: 800 training videos let a tiny Swin fine-tuned
#: for ~1-2 minutes generalise (with 200 it overfits toy-spatial); 13 s to generate per set.
VIDEOS = (800, 80)
#: training videos per set in the pretraining list (keeps pretraining's epochs short).
PRETRAIN_VIDEOS = 200
#: toy images (train, val) for the tokenizer and the image stream (make_toy_data's default).
IMAGES = (400, 100)
#: labeled videos per class of the label-scarce fine-tuning, and its epochs (4 iterations each;
#: 12 for `make demo`'s 5-minute budget: 25 took 40 s a run, and more updates favour scratch,
#: docs/ablation.md)
LABEL_SCARCE = (8, 12)
#: fine-tuning epochs on all videos per set: toy-temporal keeps the config's 10 (with 5 it
#: reached 0.988 in one run and 0.500 in another, learning the speed but not the direction);
#: toy-spatial, whose row only has to show that one frame or shuffled frames keep the
#: accuracy, 6 (40 % less of the demo's longest step)
FINETUNE_EPOCHS = dict(spatial=6, temporal=10)
#: pretraining epochs between k-NN probes (and at the start and the last epoch)
PROBE_INTERVAL = 2


def write_pretrain_list(data: str, per_set: int = PRETRAIN_VIDEOS) -> str:
    """The first ``per_set`` train videos of both toy video sets in one list (labels unused)."""
    path = osp.join(data, 'pretrain_videos.txt')
    with open(path, 'w') as out:
        for kind in ('spatial', 'temporal'):
            with open(osp.join(data, kind, 'train_list.txt')) as f:
                lines = [line for line in f if line.strip()][:per_set]
            out.writelines(f'{kind}/{line}' for line in lines)
    return path


def clip_overrides(config: str, clip_len: int, frame_interval: int, size: Sequence[int]
                   ) -> List[str]:
    """``--cfg-options`` that make every pipeline of ``config`` take ``clip_len`` x
    ``frame_interval`` clips at ``size`` (its ``SampleFrames`` and ``Resize``)."""
    cfg = Config.fromfile(config)
    opts = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for i, t in enumerate(cfg[key].dataset.pipeline):
            where = f'{key}.dataset.pipeline.{i}'
            if t['type'] == 'SampleFrames':
                opts += [f'{where}.clip_len={clip_len}', f'{where}.frame_interval={frame_interval}']
            elif t['type'] == 'Resize':
                opts.append(f'{where}.scale=({size[0]},{size[1]})')
    return opts


def epoch_overrides(config: str, epochs: Optional[int]) -> List[str]:
    """``--cfg-options`` that train ``config`` for ``epochs`` epochs, schedule included.

    Moves ``train_cfg.max_epochs`` (and ``val_begin`` where the config has one)
    and stretches every epoch-based scheduler that ends at the config's last
    epoch (its ``end`` and a cosine ``T_max``), so a longer run keeps decaying
    instead of training at the final lr (0) after the config's last epoch.
    """
    if not epochs:
        return []
    cfg = Config.fromfile(config)
    last = cfg.train_cfg.max_epochs
    opts = [f'train_cfg.max_epochs={epochs}']
    val_begin = cfg.train_cfg.get('val_begin')
    if val_begin is not None:  # validating at the last epoch only stays so
        begin = epochs if val_begin == last else min(val_begin, epochs)
        opts.append(f'train_cfg.val_begin={begin}')
    for i, sched in enumerate(cfg.param_scheduler):
        begin = sched.get('begin', 0)
        if sched.get('by_epoch', True) and sched.get('end') == last and epochs > begin:
            opts.append(f'param_scheduler.{i}.end={epochs}')
            if 'T_max' in sched:
                opts.append(f'param_scheduler.{i}.T_max={epochs - begin}')
    return opts


def val_top1(work_dir: str) -> Optional[float]:
    """Last validation top-1 (0-1) in the newest run's ``scalars.json`` of ``work_dir``."""
    values = [r['acc/top1'] for r in scalars(work_dir) if 'acc/top1' in r]
    return values[-1] if values else None


def plot_pretraining(rows: List[dict], path: str) -> Optional[str]:
    """Masked-token accuracy (per stream) and k-NN probe top-1 (per set) over iterations."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (acc, probe) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in ('acc_image', 'acc_video'):
        pts = [(r['step'], r[key]) for r in rows if key in r]
        if pts:
            acc.plot(*zip(*pts), label=key.replace('acc_', '') + ' stream')
    acc.set(title='masked-token accuracy', xlabel='iteration', ylabel='%')
    acc.legend(fontsize=8)
    keys = sorted({k for r in rows for k in r if k.startswith('probe/') and k.count('/') == 2})
    for key in keys:
        pts = [(r['step'], r[key]) for r in rows if key in r]
        probe.plot(*zip(*pts), marker='o', label=key.split('/')[1])
    probe.axhline(25, color='grey', lw=0.8, ls='--')
    probe.set(title='k-NN probe (k=20, T=0.07), frozen encoder', xlabel='iteration',
              ylabel='top-1 %')
    if keys:
        probe.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def data_is_current(data: str, videos: Sequence[int] = VIDEOS,
                    images: Sequence[int] = IMAGES) -> bool:
    """``data`` was made by this generator version with these counts."""
    from bevt_mm.testing.toy_data import DATA_VERSION
    try:
        with open(osp.join(data, 'meta.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    counts = meta.get('counts', {})
    wanted = dict(spatial=list(videos), temporal=list(videos), images=list(images))
    return (meta.get('version') == DATA_VERSION
            and all(list(counts.get(k, [])) == v for k, v in wanted.items()))


def plan_finetuning(args: argparse.Namespace, work: str, data: str, backbone: str,
                     export_name: str, summary: Dict, data_opts: Dict, scarce_dirs: Dict
                     ) -> Tuple[List[Step], List[Step], List[Step]]:
    """The demo's fine-tuning steps for :func:`run_parallel`, in the order to start them.

    Returns:
        The fine-tunings on all videos (after ``export_name``; toy-temporal, the longest,
        first), their temporal-dependence tests (each after its fine-tuning) and the
        few-label runs (from BEVT after ``export_name``, from scratch with no dependency;
        none with ``--no-transfer``). Fills ``data_opts`` (set -> data ``--cfg-options``),
        ``scarce_dirs`` ((set, init) -> work dir) and ``summary['label_scarce']``.
    """
    finetune, tests, label_scarce = [], [], []
    n = args.label_scarce_per_class
    for kind in ('temporal', 'spatial'):  # the longest fine-tuning first
        cfg = f'configs/toy/toy_finetune_swin_{kind}.py'
        data_opts[kind] = [f'train_dataloader.dataset.ann_file={data}/{kind}/train_list.txt',
                           f'train_dataloader.dataset.data_prefix.video={data}/{kind}',
                           f'val_dataloader.dataset.ann_file={data}/{kind}/val_list.txt',
                           f'val_dataloader.dataset.data_prefix.video={data}/{kind}',
                           f'test_dataloader.dataset.ann_file={data}/{kind}/val_list.txt',
                           f'test_dataloader.dataset.data_prefix.video={data}/{kind}']
        ft_dir = osp.join(work, f'finetune_{kind}')
        ft_name = f'fine-tune toy-{kind}'
        finetune.append((ft_name, [
            PY, 'tools/train.py', cfg, '--work-dir', ft_dir,
            '--cfg-options', f'model.backbone.pretrained={backbone}', *data_opts[kind],
            *epoch_overrides(cfg, args.finetune_epochs or FINETUNE_EPOCHS[kind])],
            [export_name]))
        tests.append((f'test toy-{kind} (normal/single/shuffled)', lambda k=kind, d=ft_dir: [
            PY, 'tools/analysis/temporal_dependence.py',
            f'configs/toy/toy_finetune_swin_{k}.py', last_checkpoint(d),
            '--out-dir', osp.join(work, f'temporal_dependence_{k}'),
            '--cfg-options', *data_opts[k]], [ft_name]))
        if not args.transfer:
            continue
        from bevt_mm.analysis.label_scarce import FINETUNE_CLIP, few_per_class
        scarce = few_per_class(f'{data}/{kind}/train_list.txt',
                               osp.join(work, 'lists', f'{kind}_{n}_per_class.txt'), n)
        # at the pretraining clip (8x2 at 64 px), as the probes and the toy ablation
        scarce_opts = [f'train_dataloader.dataset.ann_file={scarce}', *data_opts[kind][1:],
                       *clip_overrides(cfg, *FINETUNE_CLIP),
                       *epoch_overrides(cfg, args.label_scarce_epochs),
                       'default_hooks.checkpoint.interval=1000']
        for init, weights in (('bevt', backbone), ('scratch', None)):
            scarce_dirs[kind, init] = osp.join(work, f'label_scarce_{kind}_{init}')
            label_scarce.append((f'fine-tune toy-{kind} on {n} videos per class ({init})', [
                PY, 'tools/train.py', cfg, '--work-dir', scarce_dirs[kind, init],
                '--cfg-options', f'model.backbone.pretrained={weights}', *scarce_opts],
                [export_name] if weights else []))
    summary['label_scarce'] = {kind: dict(per_class=n) for kind in ('spatial', 'temporal')
                               if args.transfer}
    return finetune, tests, label_scarce


def main(argv: Optional[List[str]] = None) -> Dict:
    from bevt_mm.utils.stack_warnings import ignore_stack_noise
    ignore_stack_noise()  # the stack's warnings that say nothing about the run
    parser = argparse.ArgumentParser(description='BEVT toy demo (CPU)')
    parser.add_argument('--work-dir', default='work_dirs/toy')
    parser.add_argument('--data-root', default='data/toy')
    parser.add_argument('--backbone', default='swin', choices=['swin', 'timesformer'],
                        help='timesformer: pretrain toy_joint_timesformer.py instead '
                        '(the fine-tuning part of the demo is Swin-only)')
    parser.add_argument('--tokenizer-steps', type=int, default=300)
    parser.add_argument('--fresh', action='store_true', help='regenerate the toy data')
    parser.add_argument('--videos', type=int, nargs=2, default=list(VIDEOS),
                        metavar=('TRAIN', 'VAL'), help='toy videos per set and split')
    parser.add_argument('--images', type=int, nargs=2, default=list(IMAGES),
                        metavar=('TRAIN', 'VAL'), help='toy images per split')
    parser.add_argument('--pretrain-videos', type=int, default=PRETRAIN_VIDEOS,
                        help='training videos per set used for pretraining')
    parser.add_argument('--pretrain-epochs', type=int, default=None,
                        help="pretraining epochs (default: the config's)")
    parser.add_argument('--finetune-epochs', type=int, default=None,
                        help='fine-tuning epochs on all videos, both sets (default: '
                        f'{FINETUNE_EPOCHS["spatial"]} on toy-spatial, the config\'s '
                        f'{FINETUNE_EPOCHS["temporal"]} on toy-temporal; measured 2026-12-01: '
                        'with 5, toy-temporal reached 0.988 in one run and 0.500 in another, '
                        'learning the speed but not the direction)')
    parser.add_argument('--no-transfer', dest='transfer', action='store_false',
                        help='skip the few-label fine-tuning from BEVT vs from scratch '
                        '(4 short runs)')
    parser.add_argument('--label-scarce-per-class', type=int, default=LABEL_SCARCE[0],
                        help='labeled videos per class of the label-scarce fine-tuning')
    parser.add_argument('--label-scarce-epochs', type=int, default=LABEL_SCARCE[1])
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    times: Dict[str, float] = {}
    start = time.time()
    work, data = args.work_dir, args.data_root

    if args.fresh or not data_is_current(data, args.videos, args.images):
        counts = [str(n) for n in args.videos]
        run([PY, 'tools/make_toy_data.py', '--out', data, '--seed', '0',
             '--images', *[str(n) for n in args.images],
             '--spatial', *counts, '--temporal', *counts,
             '--workers', str(os.cpu_count() or 1)], times, 'toy data')
    else:
        print(f'[demo] toy data: reusing {data} (--fresh regenerates it)')

    write_pretrain_list(data, args.pretrain_videos)
    summary: Dict = dict(pretraining={}, finetuning={}, probe={}, label_scarce={},
                         seconds=times)
    logs = osp.join(work, 'logs')
    backbone = osp.join(work, 'pretrain', 'bevt_backbone.pth')
    export_name = 'export encoder'
    finetune, tests, scarce_runs, data_opts, scarce_dirs = [], [], [], {}, {}
    if args.backbone == 'swin':  # the fine-tuning part of the demo is Swin-only
        finetune, tests, scarce_runs = plan_finetuning(args, work, data, backbone, export_name,
                                                       summary, data_opts, scarce_dirs)
    scratch = [step for step in scarce_runs if not step[2]]  # from scratch: needs the data only
    tokenizer = osp.join(work, 'tokenizer', 'vqvae_toy.pth')
    # one thread each: the tokenizer's small model gains little from a second thread, and two
    # threads of one process slow down several-fold when another process takes a core
    run_parallel([('tokenizer (VQ-VAE)', [
        PY, 'tools/train_tokenizer.py', f'{data}/images/train_list.txt',
        '--data-root', f'{data}/images', '--out', tokenizer, '--preset', 'toy',
        '--size', '32', '--steps', str(args.tokenizer_steps), '--batch-size', '16',
        '--workers', '0', '--log-every', '100']), *scratch], times, logs)

    pretrain_cfg = ('configs/toy/toy_joint_swin.py' if args.backbone == 'swin'
                    else 'configs/toy/toy_joint_timesformer.py')
    pre_dir = osp.join(work, 'pretrain' if args.backbone == 'swin' else 'pretrain_timesformer')
    overrides = [f'model.target_generator.checkpoint={tokenizer}',
                 f'train_dataloader.dataset.datasets.0.ann_file={data}/pretrain_videos.txt',
                 f'train_dataloader.dataset.datasets.0.data_prefix.video={data}',
                 f'train_dataloader.dataset.datasets.1.ann_file={data}/images/train_list.txt',
                 f'train_dataloader.dataset.datasets.1.data_prefix.img={data}/images']
    hooks = Config.fromfile(pretrain_cfg).get('custom_hooks', [])
    overrides += [f'custom_hooks.{i}.data_root={data}' for i, h in enumerate(hooks)
                  if h.get('type') == 'ProbeHook']
    probe_every = [f'custom_hooks.{i}.interval={PROBE_INTERVAL}' for i, h in enumerate(hooks)
                   if h.get('type') == 'ProbeHook']
    run([PY, 'tools/train.py', pretrain_cfg, '--work-dir', pre_dir, '--cfg-options', *overrides,
         *probe_every, *epoch_overrides(pretrain_cfg, args.pretrain_epochs)],
        times, 'BEVT joint pretraining')
    pre_ckpt = last_checkpoint(pre_dir)
    mask_picture = osp.join(work, 'masks.png')
    mask_step = ('mask picture', [PY, 'tools/analysis/visualize_masks.py', pretrain_cfg,
                                  '--checkpoint', pre_ckpt, '--out', mask_picture,
                                  '--cfg-options', *overrides])
    rows = scalars(pre_dir)
    summary['mask_picture'] = mask_picture
    for key in ('acc_image', 'acc_video', 'loss_image', 'loss_video'):
        fl = first_last(rows, key)
        if fl:
            summary['pretraining'][key] = dict(start=round(fl[0], 3), end=round(fl[1], 3))
    probe_rows = [r for r in rows if 'probe/knn_top1' in r]
    if probe_rows:
        summary['pretraining']['probe_knn_top1'] = {
            k.split('/')[1]: dict(start=round(probe_rows[0][k], 2), end=round(probe_rows[-1][k], 2))
            for k in probe_rows[0] if k.startswith('probe/') and k.count('/') == 2}
        # the hook's first probe is the encoder before any update (random init), the last BEVT's
        for name, v in summary['pretraining']['probe_knn_top1'].items():
            summary['probe'][name.replace('toy_', '')] = dict(
                bevt=dict(knn_top1=v['end']), random=dict(knn_top1=v['start']))
    summary['pretraining_picture'] = plot_pretraining(rows, osp.join(work, 'pretraining.png'))

    if args.backbone != 'swin':
        run_parallel([mask_step], times, logs)
    else:
        window = [str(w) for w in Config.fromfile(pretrain_cfg).model.backbone.window_size]
        export = (export_name, [PY, 'tools/convert/bevt_to_mmaction_swin.py', pre_ckpt,
                                backbone, '--src-window-size', *window])
        # the rest is one queue on the cores: the fine-tunings (all videos), each one's test as
        # soon as it is done, the few-label runs from BEVT, the mask picture (nothing waits for it)
        bevt_runs = [step for step in scarce_runs if step[2]]
        run_parallel([export, *finetune, *tests, *bevt_runs, mask_step], times, logs)
        for (kind, init), ls_dir in scarce_dirs.items():
            summary['label_scarce'][kind][init] = val_top1(ls_dir)
        for kind in ('spatial', 'temporal'):
            with open(osp.join(work, f'temporal_dependence_{kind}', 'results.json')) as f:
                results = json.load(f)
            summary['finetuning'][kind] = {
                s: round(r['top1'], 4) for s, r in results['settings'].items()
                if r.get('top1') is not None}
    summary['total_seconds'] = round(time.time() - start, 1)
    with open(osp.join(work, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print_summary(summary)
    return summary


def print_summary(summary: Dict) -> None:
    print('\n' + '=' * 72)
    print('BEVT toy demo: summary')
    print('-' * 72)
    print('Pretraining, masked positions only (start: mean of the first logged window, '
          'end: of the last 10)')
    for key, v in summary['pretraining'].items():
        if key == 'probe_knn_top1':
            continue
        unit = ' %' if key.startswith('acc') else ''
        print(f'  {key:<12} start {v["start"]:>8.3f}{unit}   end {v["end"]:>8.3f}{unit}')
    for kind, v in summary['pretraining'].get('probe_knn_top1', {}).items():
        print(f'  k-NN probe {kind:<14} start {v["start"]:>6.1f} %   end {v["end"]:>6.1f} %')
    if summary['finetuning']:
        print('Fine-tuned top-1 on the val split')
        print(f'  {"set":<16}{"normal":>10}{"single-frame":>15}{"shuffled":>12}')
        for kind, res in summary['finetuning'].items():
            cells = [res.get(s) for s in ('normal', 'single_frame', 'shuffled')]
            text = ''.join(f'{c:>{w}.3f}' if c is not None else f'{"-":>{w}}'
                           for c, w in zip(cells, (10, 15, 12)))
            print(f'  {"toy-" + kind:<16}{text}')
    if summary.get('probe'):
        print('Frozen encoder, k-NN top-1 % (k=20, T=0.07; the ProbeHook, 8x2 clips at 64 px)')
        for kind, res in summary['probe'].items():
            print(f'  {"toy-" + kind:<16} BEVT {res["bevt"]["knn_top1"]:5.1f}'
                  f'   random init {res["random"]["knn_top1"]:5.1f}')
    if summary.get('label_scarce'):
        first = next(iter(summary['label_scarce'].values()))
        print(f'Fine-tuned on {first["per_class"]} labeled videos per class (8x2 clips at 64 px), '
              'top-1 on the val split')
        for kind, res in summary['label_scarce'].items():
            cells = [f'{res.get(k):.3f}' if res.get(k) is not None else '-'
                     for k in ('bevt', 'scratch')]
            print(f'  {"toy-" + kind:<16} from BEVT {cells[0]:>7}   from scratch {cells[1]:>7}')
    if summary.get('pretraining_picture'):
        print(f'Masked-token accuracy and k-NN probe over pretraining: '
              f'{summary["pretraining_picture"]}')
    if summary.get('mask_picture'):
        print(f'Masks and predicted tokens: {summary["mask_picture"]}')
    steps = ', '.join(f'{k} {v:.0f}s' for k, v in summary['seconds'].items())
    print(f'Time: {summary["total_seconds"]:.0f} s ({steps})')
    print('=' * 72)


if __name__ == '__main__':
    main()
