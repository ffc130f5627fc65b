#!/usr/bin/env python
"""Temporal dependence of an MMAction2 recognizer (BEVT paper, Sec. 4).

Tests CONFIG/CHECKPOINT three times (normal, single-frame, shuffled frames),
prints a table of top-1, writes ``results.json``, ``table.md`` and a bar chart
``temporal_dependence.png`` to ``--out-dir``.

Example::

    python tools/analysis/temporal_dependence.py \
        mmaction::recognition/swin/\
swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py \
        swin_tiny_k400.pth --out-dir work_dirs/td_swin_k400

    (the config name is one word; it is split here only for line length)

The recognizer is tested three times with mmengine's test loop:

* ``normal``: the config's test pipeline as it is;
* ``single_frame``: every frame of each clip replaced by one frame
  (:class:`~bevt_mm.datasets.transforms.temporal.SingleFrame`);
* ``shuffled``: the frames of each clip in a random (seeded) order
  (:class:`~bevt_mm.datasets.transforms.temporal.ShuffleFrames`).

The transforms are inserted right after the pipeline's decode step
(``*Decode``), or after the frame sampler when there is no decode step.
A dataset whose classes depend on time (SSv2, Diving48) loses much accuracy
under both; an appearance-driven one (Kinetics) little.
"""
import argparse
import copy
import json
import os
import os.path as osp
import re
import time
from typing import Dict, List, Optional, Sequence, Union

from mmengine.config import Config, DictAction

from bevt_mm.analysis.config import load_config
from bevt_mm.utils.stack_warnings import ignore_stack_noise, quiet_stack_logs

#: The settings and the transform each inserts (``None``: the pipeline as is).
DEFAULT_SETTINGS: Dict[str, Optional[dict]] = {
    'normal': None,
    'single_frame': dict(type='SingleFrame', index='middle'),
    'shuffled': dict(type='ShuffleFrames', seed=0),
}

_DECODE = re.compile(r'Decode$')
_SAMPLE = re.compile(r'Sample')


def _type_name(step: dict) -> str:
    t = step.get('type', '')
    if isinstance(t, type):
        return t.__name__
    return str(t).split('.')[-1]


def insertion_index(pipeline: Sequence[dict]) -> int:
    """Where the temporal transform goes: after the last ``*Decode`` step,
    else after the frame sampler (the transform then reorders ``frame_inds``).
    """
    names = [_type_name(s) for s in pipeline]
    for pattern in (_DECODE, _SAMPLE):
        hits = [i for i, n in enumerate(names) if pattern.search(n)]
        if hits:
            return hits[-1] + 1
    raise ValueError(f'no decode or frame-sampling step in the test pipeline {names}; '
                     'cannot insert the temporal transforms')


def insert_transform(pipeline: Sequence[dict], transform: Optional[dict]) -> List[dict]:
    """A copy of ``pipeline`` with ``transform`` inserted after the decode step."""
    pipeline = [copy.deepcopy(s) for s in pipeline]
    if transform is not None:
        pipeline.insert(insertion_index(pipeline), copy.deepcopy(transform))
    return pipeline


def _leaf_datasets(dataset: dict) -> List[dict]:
    """Datasets that own a pipeline, through wrappers (Repeat/Concat/...)."""
    if 'pipeline' in dataset:
        return [dataset]
    found = []
    if isinstance(dataset.get('dataset'), dict):
        found += _leaf_datasets(dataset['dataset'])
    for d in dataset.get('datasets', []) or []:
        found += _leaf_datasets(d)
    if not found:
        raise ValueError('test_dataloader.dataset has no pipeline')
    return found


def setting_config(cfg: Config, transform: Optional[dict], checkpoint: str, work_dir: str,
                   experiment_name: str) -> Config:
    """The test config of one setting (a copy; ``cfg`` is not changed)."""
    cfg = copy.deepcopy(cfg)
    for ds in _leaf_datasets(cfg.test_dataloader.dataset):
        ds['pipeline'] = insert_transform(ds['pipeline'], transform)
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.work_dir = work_dir
    cfg.experiment_name = experiment_name
    cfg.launcher = cfg.get('launcher', 'none')
    return cfg


def _top1(metrics: Dict[str, float]) -> Optional[float]:
    for k, v in metrics.items():
        if k.endswith('top1'):
            return float(v)
    return None


def _num_classes(cfg: Config) -> Optional[int]:
    try:
        return int(cfg.model.cls_head.num_classes)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def run_temporal_dependence(config: Union[str, Config], checkpoint: str, out_dir: str,
                            cfg_options: Optional[dict] = None,
                            settings: Optional[Dict[str, Optional[dict]]] = None,
                            plot: bool = True) -> Dict:
    """Test ``checkpoint`` under each setting; write ``results.json`` (and a PNG).

    Args:
        config (str | Config): an MMAction2 recognizer config (a path, an
            ``mmaction::recognition/...`` path, or a loaded Config).
        checkpoint (str): weights to load (``load_from``).
        out_dir (str): where the JSON, PNG, table and per-setting work dirs go.
        cfg_options (dict, optional): overrides merged into the config.
        settings (dict, optional): name -> transform dict (None = unchanged);
            default :data:`DEFAULT_SETTINGS`.
        plot (bool): write ``temporal_dependence.png``.

    Returns:
        dict: the content of ``results.json``: per setting its transform,
        metrics, top-1, and the top-1 change relative to ``normal``.
    """
    import bevt_mm  # noqa: F401  (registers SingleFrame/ShuffleFrames)
    from mmengine.runner import Runner

    from mmaction.registry import RUNNERS

    config_name = config if isinstance(config, str) else (config.filename or 'config')
    cfg = load_config(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    settings = DEFAULT_SETTINGS if settings is None else settings
    os.makedirs(out_dir, exist_ok=True)
    stamp = time.strftime('%Y%m%d_%H%M%S')

    results = dict(config=str(config_name), checkpoint=checkpoint,
                   num_classes=_num_classes(cfg), settings={})
    for name, transform in settings.items():
        scfg = setting_config(cfg, transform, checkpoint, osp.join(out_dir, name),
                              experiment_name=f'temporal_dependence_{name}_{stamp}_{os.getpid()}')
        runner = Runner.from_cfg(scfg) if 'runner_type' not in scfg else RUNNERS.build(scfg)
        quiet_stack_logs(runner.logger)
        start = time.time()
        metrics = runner.test()
        metrics = {k: float(v) for k, v in (metrics or {}).items()}
        results['settings'][name] = dict(transform=transform, metrics=metrics,
                                         top1=_top1(metrics),
                                         seconds=round(time.time() - start, 2))
        del runner
    base = results['settings'].get('normal', {}).get('top1')
    for r in results['settings'].values():
        r['delta_top1'] = None if base is None or r['top1'] is None else r['top1'] - base

    results['table'] = format_table(results)
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2, default=str)
    with open(osp.join(out_dir, 'table.md'), 'w') as f:
        f.write(results['table'] + '\n')
    if plot:
        results['plot'] = plot_results(results, osp.join(out_dir, 'temporal_dependence.png'))
    return results


def format_table(results: Dict) -> str:
    """A Markdown table: setting, top-1, change vs normal."""
    chance = results.get('num_classes')
    lines = ['| setting | top-1 | vs normal |', '|---|---|---|']
    for name, r in results['settings'].items():
        top1 = 'n/a' if r['top1'] is None else f"{100 * r['top1']:.2f}"
        delta = '' if r.get('delta_top1') is None else f"{100 * r['delta_top1']:+.2f}"
        lines.append(f'| {name} | {top1} | {delta} |')
    if chance:
        lines.append(f'\nchance: {100 / chance:.2f} ({chance} classes)')
    return '\n'.join(lines)


def plot_results(results: Dict, path: str) -> str:
    """A bar chart of top-1 per setting (matplotlib, Agg backend)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = list(results['settings'])
    values = [100 * (results['settings'][n]['top1'] or 0.0) for n in names]
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    bars = ax.bar(names, values, color=['#4C72B0', '#DD8452', '#55A868', '#C44E52'][:len(names)])
    for b, v in zip(bars, values):
        ax.text(b.get_x() + b.get_width() / 2, v + 1, f'{v:.1f}', ha='center', va='bottom')
    if results.get('num_classes'):
        ax.axhline(100 / results['num_classes'], color='gray', ls='--', lw=1, label='chance')
        ax.legend(loc='upper right')
    ax.set_ylim(0, 105)
    ax.set_ylabel('top-1 (%)')
    ax.set_title(osp.basename(str(results.get('config', ''))) or 'temporal dependence',
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


__all__ = ['DEFAULT_SETTINGS', 'insertion_index', 'insert_transform', 'setting_config',
           'run_temporal_dependence', 'format_table', 'plot_results']


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
    ignore_stack_noise()
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
