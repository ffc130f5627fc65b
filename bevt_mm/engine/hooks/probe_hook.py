"""k-NN probe of the encoder during pretraining, without touching the training state.

Every ``interval`` epochs (or iterations with ``by_epoch=False``) the hook
extracts pooled encoder features of small labeled video sets
(:func:`~bevt_mm.evaluation.features.bevt_features` for a ``BEVT`` model:
encoder without mask, decoder norm, mean over time and space; a recognizer's
``extract_feat`` otherwise), runs the k-NN probe of DINO
(:func:`~bevt_mm.evaluation.knn.knn_top1`, k=20, T=0.07 by default) and
logs ``probe/<set>/knn_top1`` for each set and their mean ``probe/knn_top1``
(%, 0-100) to the message hub, the logger and the visualizer
(``scalars.json``; TensorBoard when that backend is configured).

Training state is left exactly as found: the Python, NumPy, torch and CUDA
RNG states are saved before and restored after the probe (a DataLoader
iterator alone draws a torch seed), every module's ``training`` flag is put
back, the probe uses its own sequential, worker-free loaders (the training
sampler is never touched), and no gradients are computed. A run with the hook
computes the same losses as one without, and resumes exactly
(``tests/reliability/test_probe_hook.py``). In distributed runs only rank 0
probes.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmaction.registry import HOOKS

from ...evaluation.features import (TOY_PRETRAIN_CLIP, bevt_features, build_probe_loader,
                                        extract_features, recognizer_features)
from ...evaluation.knn import DEFAULT_K, DEFAULT_TEMPERATURE, knn_top1
from .rng_state import get_rng_state, set_rng_state



@HOOKS.register_module()
class ProbeHook(Hook):
    """Log the k-NN top-1 of the encoder on labeled sets every N epochs.

    Args:
        sets (dict): ``name -> dict(data_prefix, train, val, num_train=None,
            num_val=None)``: the video folder and the ``path label`` lists
            (paths relative to ``data_root``; lists relative to
            ``data_prefix``); ``num_*`` take the first N samples of a list
            (the toy lists are class-balanced in every prefix).
        data_root (str): Folder the set paths are relative to. Defaults to ''.
        pipeline (list[dict]): Test pipeline of the clips (deterministic);
            defaults to :data:`~bevt_mm.evaluation.features.TOY_PRETRAIN_CLIP`.
        interval (int): Probe every ``interval`` epochs (iterations).
        by_epoch (bool): Count epochs (True) or iterations.
        at_start (bool): Also probe before the first iteration of a fresh
            run (not when resuming). Defaults to False.
        k (int): k-NN neighbours. Defaults to 20 (DINO).
        temperature (float): k-NN vote temperature. Defaults to 0.07 (DINO).
        batch_size (int): Clips per forward pass. Defaults to 8.
        dataset_type (str): mmaction dataset type. Defaults to 'VideoDataset'.
        prefix (str): Scalar name prefix. Defaults to 'probe'.
    """

    priority = 'NORMAL'

    def __init__(self, sets: Dict[str, Dict], data_root: str = '',
                 pipeline: Optional[Sequence[dict]] = None, interval: int = 1,
                 by_epoch: bool = True, at_start: bool = False, k: int = DEFAULT_K,
                 temperature: float = DEFAULT_TEMPERATURE, batch_size: int = 8,
                 dataset_type: str = 'VideoDataset', prefix: str = 'probe') -> None:
        if not sets:
            raise ValueError('ProbeHook needs at least one set in `sets`')
        if interval < 1:
            raise ValueError(f'ProbeHook interval must be >= 1, got {interval}')
        self.sets = sets
        self.data_root = data_root
        self.pipeline = list(pipeline or TOY_PRETRAIN_CLIP)
        self.interval = interval
        self.by_epoch = by_epoch
        self.at_start = at_start
        self.k = k
        self.temperature = temperature
        self.batch_size = batch_size
        self.dataset_type = dataset_type
        self.prefix = prefix
        self._loaders: Optional[Dict[str, Dict]] = None

    # ------------------------------------------------------------ datasets
    def _dataset(self, name: str, spec: Dict, split: str) -> dict:
        for key in ('data_prefix', split):
            if key not in spec:
                raise KeyError(f'ProbeHook sets.{name} has no "{key}" (expected data_prefix, '
                               'train, val)')
        prefix = osp.join(self.data_root, spec['data_prefix'])
        ann = osp.join(prefix, spec[split])
        if not osp.isfile(ann):
            raise FileNotFoundError(
                f'ProbeHook sets.{name}.{split}: {ann} not found (data_root={self.data_root!r}); '
                'make the toy data (tools/make_toy_data.py) or fix custom_hooks ProbeHook '
                'data_root / sets')
        ds = dict(type=self.dataset_type, ann_file=ann, data_prefix=dict(video=prefix),
                  pipeline=self.pipeline, test_mode=True)
        if spec.get(f'num_{split}'):
            ds['indices'] = int(spec[f'num_{split}'])
        return ds

    def _build_loaders(self) -> Dict[str, Dict]:
        if self._loaders is None:
            self._loaders = {
                name: {split: build_probe_loader(self._dataset(name, spec, split),
                                                 self.batch_size)
                       for split in ('train', 'val')}
                for name, spec in self.sets.items()}
        return self._loaders

    # --------------------------------------------------------------- probe
    def probe(self, model: torch.nn.Module) -> Dict[str, float]:
        """k-NN top-1 (%) per set and their mean; restores every state it touches."""
        if is_model_wrapper(model):
            model = model.module
        loaders = self._build_loaders()  # errors about the lists before touching anything
        rng = get_rng_state()
        modes: List = [(m, m.training) for m in model.modules()]
        try:
            model.eval()
            encode = (bevt_features(model) if hasattr(model.backbone, 'forward_pretrain')
                      else recognizer_features(model))
            scores = {}
            with torch.no_grad():
                for name, pair in loaders.items():
                    tr_f, tr_y = extract_features(encode, pair['train'], progress=False)
                    va_f, va_y = extract_features(encode, pair['val'], progress=False)
                    scores[f'{self.prefix}/{name}/knn_top1'] = knn_top1(
                        tr_f, tr_y, va_f, va_y, k=self.k, temperature=self.temperature)
            scores[f'{self.prefix}/knn_top1'] = sum(scores.values()) / len(scores)
        finally:
            for module, mode in modes:
                module.training = mode
            set_rng_state(rng)
        return scores

    @master_only
    def _run(self, runner, step: int, where: str) -> None:
        """Probe and log at ``step`` (iterations done, as the logger's scalars); ``where``
        names the point in training in the log line."""
        scores = self.probe(runner.model)
        for key, value in scores.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(scores, step=step)
        runner.logger.info(f'k-NN probe (k={self.k}, T={self.temperature}) {where}: '
                           + ', '.join(f'{k} {v:.2f}' for k, v in scores.items()))

    # --------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        if self.at_start and runner.iter == 0:
            self._run(runner, 0, 'before training')

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and (self.every_n_epochs(runner, self.interval)
                              or self.is_last_train_epoch(runner)):
            # the epoch's iterations are counted by now; runner.epoch only after the hooks
            self._run(runner, runner.iter, f'after epoch {runner.epoch + 1}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.by_epoch and (self.every_n_train_iters(runner, self.interval)
                                  or self.is_last_train_iter(runner)):
            # runner.iter counts this one after the hooks
            self._run(runner, runner.iter + 1, f'after iter {runner.iter + 1}')
