"""Label-scarce fine-tuning: a recognizer trained on a few labeled videos per class.

:func:`few_per_class` writes a list of the first ``n`` videos of each class;
:func:`label_scarce_top1` fine-tunes a recognizer config on it and returns
top-1 on the val list. Used by ``demo/toy_ablation.py``, ``demo/toy_demo.py``
and ``demo/label_scarce.py``.
"""
import copy
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config


#: the pretraining clip of toy_joint_swin.py (clip_len, frame_interval, (h, w)), for
#: label-scarce fine-tuning where the encoder's own clip is wanted. The toy fine-tuning
#: configs' 16x1 clips at 32 px show a toy-temporal motion of 0.6-0.9 patches per frame
#: instead of the 2.5-3.5 the encoder was pretrained on; docs/ablation.md has both measured.
FINETUNE_CLIP = (8, 2, (64, 64))


def few_per_class(ann_file: str, out: str, per_class: int) -> str:
    """Write the first ``per_class`` lines of every label of ``ann_file`` to ``out``.

    Args:
        ann_file (str): A ``path label`` list.
        out (str): The list to write.
        per_class (int): Videos kept per class.

    Returns:
        str: ``out``.

    Raises:
        ValueError: When a class has fewer than ``per_class`` videos.
    """
    rows: Dict[str, List[str]] = defaultdict(list)
    from bevt_mm.datasets.ann_list import read_list_lines  # Windows lists: BOM, CRLF
    lines = [line + '\n' for line in read_list_lines(ann_file) if line.strip()]
    for line in lines:
        label = line.split()[-1]
        if len(rows[label]) < per_class:
            rows[label].append(line if line.endswith('\n') else line + '\n')
    short = {k: len(v) for k, v in rows.items() if len(v) < per_class}
    if short:
        raise ValueError(f'{ann_file}: classes {short} have fewer than {per_class} videos')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        for line in lines:  # keep the list's order
            label = line.split()[-1]
            if line in rows[label] or line + '\n' in rows[label]:
                f.write(line if line.endswith('\n') else line + '\n')
    return out


def finetune_config(config: str, train_list: str, val_list: str, data_prefix: str,
                    work_dir: str, pretrained: Optional[str], epochs: int,
                    seed: int = 0) -> Config:
    """The recognizer config trained on ``train_list`` for ``epochs`` epochs.

    The warm-up (1 epoch) + cosine schedule of the toy fine-tuning configs is
    stretched to ``epochs``; validation runs once, after the last epoch;
    one checkpoint at the end.

    Args:
        config (str): A recognizer config (e.g. a toy fine-tuning config).
        train_list (str): Its training list.
        val_list (str): Its validation list.
        data_prefix (str): The videos' folder.
        work_dir (str): The run's work dir.
        pretrained (str, optional): An exported backbone; None trains from
            scratch.
        epochs (int): Training epochs.
        seed (int): The run's seed. Defaults to 0.

    Returns:
        Config: The config to give :func:`label_scarce_top1`.
    """
    # unformatted config text: the Runner writes it to its log, work dir and checkpoint, and
    # yapf-formatting it costs about a second each time on a small CPU
    cfg = Config.fromfile(config, format_python_code=False)
    cfg.work_dir = work_dir
    cfg.model.backbone.pretrained = pretrained
    prefix = dict(video=data_prefix)
    cfg.train_dataloader.dataset.update(ann_file=train_list, data_prefix=prefix)
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].dataset.update(ann_file=val_list, data_prefix=prefix)
    cfg.train_cfg.update(max_epochs=epochs, val_begin=epochs, val_interval=1)
    schedulers = []
    for sched in copy.deepcopy(cfg.param_scheduler):
        if sched.get('type') == 'CosineAnnealingLR':
            if epochs <= sched.get('begin', 0):
                continue  # the warm-up is the whole run
            sched.update(end=epochs, T_max=epochs - sched.get('begin', 0))
        schedulers.append(sched)
    cfg.param_scheduler = schedulers
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.randomness = dict(seed=seed)
    return cfg


def set_clip(cfg: Config, clip_len: int, frame_interval: int, size: Tuple[int, int]) -> Config:
    """Make every pipeline of a recognizer config sample ``clip_len`` x ``frame_interval``
    at ``size``.

    Updates ``SampleFrames`` (clip length, interval) and ``Resize`` (``scale``)
    of the train, val and test pipelines in place, e.g. to fine-tune at the
    clip the encoder was pretrained on.

    Args:
        cfg (Config): A recognizer config.
        clip_len (int): Frames per clip.
        frame_interval (int): Frame step.
        size (tuple[int, int]): ``Resize`` scale.

    Returns:
        Config: ``cfg``, changed in place.

    Raises:
        ValueError: When a pipeline lacks ``SampleFrames`` or ``Resize``.
    """
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if not cfg.get(key):
            continue
        pipeline = cfg[key].dataset.pipeline
        kinds = {t['type'] for t in pipeline}
        if not {'SampleFrames', 'Resize'} <= kinds:
            raise ValueError(f'{key}.dataset.pipeline needs SampleFrames and Resize to set the '
                             f'clip, has {sorted(kinds)}')
        for t in pipeline:
            if t['type'] == 'SampleFrames':
                t.update(clip_len=clip_len, frame_interval=frame_interval)
            elif t['type'] == 'Resize':
                t.update(scale=tuple(size), keep_ratio=False)
    return cfg


def label_scarce_top1(cfg: Config) -> float:
    """Train a recognizer and return its validation top-1.

    Args:
        cfg (Config): From :func:`finetune_config`.

    Returns:
        float: Top-1 accuracy on the val list, in [0, 1].
    """
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()  # validates after the last epoch
    scalars = runner.message_hub.log_scalars
    top1 = [k for k in scalars if k.startswith('val/') and k.endswith('top1')]
    if not top1:
        raise RuntimeError(f'no val top1 after training ({sorted(scalars)}); '
                           'the config must validate after its last epoch')
    return float(scalars[top1[0]].current())
