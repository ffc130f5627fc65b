"""docs/own_data.md's overrides do what they say: ``custom_hooks=[]`` drops the
k-NN probe only (the reliability hooks stay), and ``train_cfg.max_epochs`` alone
sets the run length that the lr schedule and validation follow."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from bevt_mm.engine.schedulers import RunCosineAnnealingLR

from experiment_names import experiment_name

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RELIABILITY = {'NonFiniteLossHook', 'RNGStateHook', 'AccumulatedGradsHook'}


def _hooks(runner):
    return {type(h).__name__ for h in runner.hooks}


@pytest.mark.slow
def test_no_custom_hooks_keeps_the_reliability_hooks(tmp_path, random_toy_tokenizer):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'toy', 'toy_joint_swin.py'))
    assert 'ProbeHook' in {h['type'] for h in cfg.custom_hooks}
    cfg.merge_from_dict({'custom_hooks': [],  # as docs/own_data.md
                         'model.target_generator.checkpoint': random_toy_tokenizer})
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = experiment_name('no_custom_hooks')
    runner = Runner.from_cfg(cfg)
    hooks = _hooks(runner)
    assert RELIABILITY <= hooks and 'ProbeHook' not in hooks, hooks


@pytest.mark.parametrize('name', ['toy/toy_finetune_swin_spatial.py',
                                  'bevt/finetune_swin_b_k400.py',
                                  'bevt/finetune_swin_b_ssv2.py',
                                  'bevt/finetune_timesformer_b_k400.py',
                                  'bevt/joint_swin_b.py'])
def test_reliability_hooks_are_default_hooks(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    assert RELIABILITY <= {h['type'] for h in cfg.default_hooks.values() if h}
    assert not RELIABILITY & {h['type'] for h in cfg.get('custom_hooks', [])}


def test_run_cosine_ends_with_the_run():
    param = torch.nn.Parameter(torch.zeros(1))
    optim = torch.optim.SGD([param], lr=1.0)
    sched = RunCosineAnnealingLR(optim, eta_min=0, begin=2, end=6)  # end: the Runner's
    lrs = []
    for _ in range(6):
        lrs.append(optim.param_groups[0]['lr'])
        optim.step()
        sched.step()
    # mmengine's cosine: eta_min at step `end`, the first step after the run
    expected = [1.0, 1.0] + [(1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)]
    assert lrs == pytest.approx(expected, abs=1e-9)
    # a run that ends before the cosine begins (the warm-up only) is not an error
    optim = torch.optim.SGD([param], lr=1.0)
    RunCosineAnnealingLR(optim, eta_min=0, begin=1, end=1).step()
    assert optim.param_groups[0]['lr'] == 1.0


@pytest.mark.slow
def test_max_epochs_alone_sets_schedule_and_validation(tmp_path, toy_videos):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'toy', 'toy_finetune_swin_spatial.py'))
    data = {}
    for split, key in (('train', 'train'), ('val', 'val'), ('test', 'val')):
        data[f'{split}_dataloader.dataset.ann_file'] = toy_videos[key]
        data[f'{split}_dataloader.dataset.data_prefix.video'] = toy_videos['root']
        data[f'{split}_dataloader.batch_size'] = 2
        data[f'{split}_dataloader.num_workers'] = 0
        data[f'{split}_dataloader.persistent_workers'] = False
    cfg.merge_from_dict(dict(data, **{'train_cfg.max_epochs': 2}))  # the length, once
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = experiment_name('max_epochs_alone')
    runner = Runner.from_cfg(cfg)
    lrs = []

    from mmengine.hooks import Hook

    class RecordLr(Hook):

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            lrs.append(runner.optim_wrapper.get_lr()['lr'][0])

    runner.register_hook(RecordLr(), 'LOWEST')
    runner.train()
    # 2 epochs of 2 iterations: warm-up (epoch 1), then a cosine over the 2 iterations left,
    # which reaches 0 where the run ends (at its last iteration: half way)
    assert len(lrs) == 4 and lrs[2] == pytest.approx(max(lrs))
    assert lrs[3] == pytest.approx(lrs[2] / 2, rel=1e-6), lrs
    assert 'val/acc/top1' in runner.message_hub.log_scalars  # validation ran
