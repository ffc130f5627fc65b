"""Frozen-encoder probes of checkpoints: k-NN and linear-probe top-1 side by side.

:func:`run_probe` builds the recognizer of a config per checkpoint (or
random init, :func:`build_recognizer`), loads its backbone
(:func:`~bevt_mm.evaluation.load_encoder_weights`), extracts pooled
features of a labeled train and val list once
(:func:`~bevt_mm.evaluation.extract_features`) and runs both probes on them
(:func:`probe_checkpoint`). The probes' settings and how to run it:
``tools/analysis/probe.py``.
"""
import copy
import json
import logging
import os
import os.path as osp
import time
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from bevt_mm.analysis.measure import restores_torch_rng
from bevt_mm.evaluation import (DEFAULT_K, DEFAULT_TEMPERATURE, LINEAR_LR,
                                LINEAR_STEPS, LINEAR_WEIGHT_DECAY, build_probe_loader,
                                extract_features, knn_top1, linear_probe_top1,
                                load_encoder_weights, recognizer_features)


RANDOM_INIT = 'random-init'


def probe_datasets(cfg: Config, train_list: Optional[str] = None,
                   val_list: Optional[str] = None, data_prefix: Optional[str] = None
                   ) -> Dict[str, dict]:
    """Dataset configs of the train and val lists, both with the test pipeline.

    Args:
        cfg (Config): A recognizer config with a test (or val) pipeline.
        train_list (str, optional): Labeled train list. Defaults to the
            config's ``train_dataloader`` list.
        val_list (str, optional): Labeled val list. Defaults to the config's
            ``val_dataloader`` list.
        data_prefix (str, optional): The video folder of both lists.
            Defaults to the config's, else each list's folder.

    Returns:
        dict: ``train`` and ``val`` dataset configs (``test_mode=True``).

    Raises:
        ValueError: No test pipeline, or no list given or configured.
        FileNotFoundError: A list does not exist.
    """
    test_ds = (cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}).get('dataset')
    if not test_ds or 'pipeline' not in test_ds:
        raise ValueError(f'{cfg.filename}: the probe needs test_dataloader.dataset with a '
                         'pipeline (the clips the encoder sees)')
    out = {}
    for split, given, key in (('train', train_list, 'train_dataloader'),
                              ('val', val_list, 'val_dataloader')):
        source = (cfg.get(key) or {}).get('dataset', {})
        ann = given or source.get('ann_file')
        if not ann:
            raise ValueError(f'no {split} list: pass --{split}-list or set {key}.dataset.ann_file')
        if not osp.isfile(ann):
            raise FileNotFoundError(f'{split} list {ann} not found (--{split}-list)')
        ds = copy.deepcopy(dict(test_ds))
        ds.update(ann_file=ann, test_mode=True)
        ds.pop('num_classes', None)  # the probe's classes are the lists', not the head's
        prefix = data_prefix or (source.get('data_prefix') or {}).get('video') \
            or osp.dirname(ann)
        ds['data_prefix'] = dict(video=prefix)
        out[split] = ds
    return out


@restores_torch_rng
def build_recognizer(cfg: Config, seed: int = 0) -> torch.nn.Module:
    """The config's model, initialized with ``seed`` (weights of ``--random-init``).

    Args:
        cfg (Config): A recognizer config; its backbone's ``pretrained`` is
            ignored.
        seed (int): Seed of the initialization. Defaults to 0.

    Returns:
        nn.Module: The recognizer in eval mode.
    """
    from mmaction.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone['pretrained'] = None  # weights come from the probe's checkpoint
        if model_cfg.backbone.get('pretrained2d', False):
            model_cfg.backbone['pretrained2d'] = False  # nothing to inflate (stock Swin)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # mmengine logs every parameter's init at INFO
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model.eval()


def probe_checkpoint(cfg: Config, checkpoint: Optional[str], loaders: Dict,
                     k: int = DEFAULT_K, temperature: float = DEFAULT_TEMPERATURE,
                     seed: int = 0, src_window_size: Optional[Sequence[int]] = None,
                     progress: bool = True) -> Dict:
    """Both probes of one checkpoint.

    Args:
        cfg (Config): A recognizer config.
        checkpoint (str, optional): The file; None probes the random init
            with ``seed``.
        loaders (dict): ``train`` and ``val`` data loaders.
        k (int): k-NN neighbours. Defaults to DINO's 20.
        temperature (float): k-NN vote temperature. Defaults to DINO's 0.07.
        seed (int): Random init and linear-probe seed. Defaults to 0.
        src_window_size (Sequence[int], optional): Window of a BEVT
            checkpoint. Defaults to None (read from its tables).
        progress (bool): Progress bars while extracting. Defaults to True.

    Returns:
        dict: ``checkpoint``, ``kind``, ``knn_top1`` and ``linear_top1`` (%),
        sample counts, ``feature_dim``, ``num_classes``, ``extract_seconds``.
    """
    model = build_recognizer(cfg, seed)
    kind = RANDOM_INIT if checkpoint is None else load_encoder_weights(
        model, checkpoint, src_window_size)
    encode = recognizer_features(model)
    start = time.time()
    feats = {split: extract_features(encode, loader, progress)
             for split, loader in loaders.items()}
    seconds = time.time() - start
    (tr_f, tr_y), (va_f, va_y) = feats['train'], feats['val']
    num_classes = int(max(tr_y.max(), va_y.max())) + 1
    return dict(checkpoint=checkpoint or RANDOM_INIT, kind=kind,
                knn_top1=knn_top1(tr_f, tr_y, va_f, va_y, num_classes, k, temperature),
                linear_top1=linear_probe_top1(tr_f, tr_y, va_f, va_y, num_classes, seed=seed),
                num_train=len(tr_y), num_val=len(va_y), feature_dim=tr_f.shape[1],
                num_classes=num_classes, extract_seconds=round(seconds, 1))


def run_probe(config: Union[str, Config], checkpoints: Sequence[Optional[str]],
              train_list: Optional[str] = None, val_list: Optional[str] = None,
              data_prefix: Optional[str] = None, k: int = DEFAULT_K,
              temperature: float = DEFAULT_TEMPERATURE, seed: int = 0,
              batch_size: int = 8, cfg_options: Optional[dict] = None,
              src_window_size: Optional[Sequence[int]] = None,
              out_dir: Optional[str] = None, progress: bool = True) -> Dict:
    """Probe every checkpoint; write ``probe.json`` and ``probe.md`` to ``out_dir``.

    Args:
        config (str | Config): An MMAction2 recognizer config.
        checkpoints (Sequence[str | None]): Files; ``None`` = random init.
        train_list, val_list, data_prefix: Labeled lists (``path label``) and
            their video folder; default the config's train/val lists.
        k, temperature: k-NN settings (DINO's 20 and 0.07).
        seed (int): Random-init weights and linear-probe initialization.
        batch_size (int): Clips per forward pass.
        cfg_options (dict, optional): Overrides merged into the config.
        src_window_size (Sequence[int], optional): Window of BEVT checkpoints.
        out_dir (str, optional): Where to write the JSON and the table.
        progress (bool): Progress bars while extracting.

    Returns:
        dict: ``settings`` (k, T, linear schedule, lists) and ``results``, one
        entry per checkpoint with ``knn_top1`` and ``linear_top1`` (%).
    """
    import bevt_mm  # noqa: F401  (registers BEVT's types)
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    datasets = probe_datasets(cfg, train_list, val_list, data_prefix)
    loaders = {s: build_probe_loader(d, batch_size) for s, d in datasets.items()}
    results = []
    for ckpt in checkpoints:
        print(f'[probe] {ckpt or RANDOM_INIT}', flush=True)
        results.append(probe_checkpoint(cfg, ckpt, loaders, k, temperature, seed,
                                        src_window_size, progress))
    report = dict(
        config=str(config if isinstance(config, str) else cfg.filename),
        settings=dict(k=k, temperature=temperature, seed=seed,
                      linear=dict(steps=LINEAR_STEPS, lr=LINEAR_LR,
                                  weight_decay=LINEAR_WEIGHT_DECAY, optimizer='AdamW',
                                  batch='full', features='standardized'),
                      train_list=datasets['train']['ann_file'],
                      val_list=datasets['val']['ann_file']),
        results=results)
    report['table'] = format_table(report)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(osp.join(out_dir, 'probe.json'), 'w') as f:
            json.dump(report, f, indent=2)
        with open(osp.join(out_dir, 'probe.md'), 'w') as f:
            f.write(report['table'] + '\n')
    return report


def format_table(report: Dict) -> str:
    """A markdown table of a :func:`run_probe` report.

    Args:
        report (dict): :func:`run_probe`'s result.

    Returns:
        str: One row per checkpoint (kind, k-NN and linear top-1, sample
        counts) and the chance level.
    """
    s = report['settings']
    lines = [f"| checkpoint | kind | k-NN top-1 (k={s['k']}, T={s['temperature']}) "
             '| linear top-1 | train / val |', '|---|---|---|---|---|']
    for r in report['results']:
        lines.append(f"| {r['checkpoint']} | {r['kind']} | {r['knn_top1']:.1f} | "
                     f"{r['linear_top1']:.1f} | {r['num_train']} / {r['num_val']} |")
    if report['results']:
        lines.append(f"\nchance: {100 / report['results'][0]['num_classes']:.1f} %")
    return '\n'.join(lines)
