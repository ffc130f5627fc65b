"""A hook for the distributed test: records what each rank loaded and computed.

Imported by the test's config (``custom_imports``); writes
``<work_dir>/probe_rank<r>.pt`` with the initial weights, the files of every
batch, the first batch itself, its losses and the gradients the optimizer got
(after DDP's all-reduce, before clipping).
"""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmaction.registry import HOOKS


def _files(data_batch):
    return [s.metainfo.get('filename', s.metainfo.get('img_path'))
            for s in data_batch['data_samples']]


@HOOKS.register_module()
class DistProbeHook(Hook):
    priority = 'VERY_HIGH'

    def __init__(self):
        self.record = dict(files=[], grads=None)

    def _model(self, runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner):
        model = self._model(runner)
        self.record['init'] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.record['world_size'] = runner.world_size
        self.record['backend'] = (torch.distributed.get_backend()
                                  if torch.distributed.is_initialized() else None)
        wrapper = runner.optim_wrapper
        step = wrapper.step

        def recording_step(**kwargs):
            if self.record['grads'] is None:
                self.record['grads'] = {n: p.grad.detach().clone()
                                        for n, p in model.named_parameters()
                                        if p.grad is not None}
            return step(**kwargs)

        wrapper.step = recording_step

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.record['files'].append(_files(data_batch))
        if runner.iter == 0:
            self.record['batch0'] = data_batch

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == 0:
            self.record['outputs0'] = {k: float(v) for k, v in outputs.items()}

    def after_train(self, runner):
        torch.save(self.record, osp.join(runner.work_dir, f'probe_rank{get_rank()}.pt'))
