"""``--resume`` on a work dir without a checkpoint starts from ``load_from``, not random init.

A requeue-safe Slurm job always passes ``--resume``; the joint recipe sets
``load_from`` (its image-stream initialization). MMAction2's CLI turned
``--resume`` into ``resume=True, load_from=None``, so the first attempt trained
from random init with no message; ``resume=True`` in a config resumed from the
initialization file itself (a weights-only file: no ``meta``, no optimizer).

The shrunk toy joint recipe (real model, real files): ``load_from`` is the
state dict of a differently seeded toy BEVT model saved as the converters save
(``dict(state_dict=..., meta=...)``); the checkpoints of a real 2-iteration run
stands for a requeued job. After the start (``merge_train_args`` as
``tools/train.py`` runs it, then the Runner's ``load_or_resume``, the first step
of ``Runner.train``) we count the backbone tensors equal to the file the run
should have started from.
"""
import glob
import os
import os.path as osp
import shutil
from argparse import Namespace

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import toy_run
from bevt_mm.engine import merge_train_args
from bevt_mm.utils.safe_load import load_checkpoint_file

from experiment_names import experiment_name

pytestmark = pytest.mark.slow  # end to end: a training run in a fixture


@pytest.fixture(scope='module')
def setup(rel_media, rel_tokenizer, tmp_path_factory):
    """The dumped toy config (``load_from`` = a real init file) and that file."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    root = tmp_path_factory.mktemp('resume_start')
    config = str(root / 'toy.py')
    cfg = toy_run.toy_config(rel_media, rel_tokenizer, str(root / 'unused'), config,
                             max_iters=2)
    init_default_scope('mmaction')
    torch.manual_seed(123)  # not the run's seed: its init differs from this file
    model = MODELS.build(cfg.model)
    init = str(root / 'joint_init.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(converted_from='toy')), init)
    cfg = Config.fromfile(config)
    cfg.load_from = init
    cfg.dump(config)
    run = str(root / 'run')  # a real 2-iteration run (iter_1.pth, iter_2.pth)
    cfg = merge_train_args(Config.fromfile(config), _args(config, run, None))
    cfg.experiment_name = experiment_name('resume_start')
    Runner.from_cfg(cfg).train()
    return dict(config=config, init=init, root=root, run=run)


def _args(config, work_dir, resume):
    return Namespace(config=config, work_dir=work_dir, resume=resume, amp=False,
                     no_validate=False, auto_scale_lr=False, seed=None, diff_rank_seed=False,
                     deterministic=False, cfg_options=None, launcher='none')


def _start(config, work_dir, resume=None, cfg_resume=None):
    """What ``tools/train.py`` does up to the first iteration."""
    cfg = Config.fromfile(config)
    if cfg_resume is not None:
        cfg.resume = cfg_resume
    cfg = merge_train_args(cfg, _args(config, work_dir, resume))
    cfg.experiment_name = experiment_name('resume_start')
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    return runner


def _equal_backbone_tensors(runner, path):
    """(backbone tensors equal to ``path``'s ``backbone.*``, backbone tensors)."""
    ref = load_checkpoint_file(path)['state_dict']
    own = runner.model.backbone.state_dict()
    same = sum(1 for k, v in own.items()
               if f'backbone.{k}' in ref and torch.equal(v, ref[f'backbone.{k}']))
    return same, len(own)


def _run_log(work_dir):
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    return open(logs[-1]).read()


@pytest.mark.parametrize('how', ['--resume', 'resume=True'])
def test_resume_without_checkpoint_loads_load_from(setup, tmp_path, how):
    work = str(tmp_path / 'work')
    runner = (_start(setup['config'], work, resume='auto') if how == '--resume' else
              _start(setup['config'], work, cfg_resume=True))
    same, total = _equal_backbone_tensors(runner, setup['init'])
    assert same == total, f'{same} of {total} backbone tensors come from load_from'
    assert runner.iter == 0
    assert f'Load checkpoint from {setup["init"]}' in _run_log(work)


@pytest.mark.parametrize('how', ['--resume', 'resume=True'])
def test_resume_with_checkpoint_takes_the_latest_not_load_from(setup, tmp_path, how):
    work = str(tmp_path / 'work')
    shutil.copytree(setup['run'], work)  # the job is requeued after 2 iterations
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'iter_2.pth'))
    latest = toy_run.last_checkpoint(work)
    runner = (_start(setup['config'], work, resume='auto') if how == '--resume' else
              _start(setup['config'], work, cfg_resume=True))
    assert runner.iter == 2
    same, total = _equal_backbone_tensors(runner, latest)
    assert same == total
    assert _equal_backbone_tensors(runner, setup['init'])[0] < total
    assert f'Auto resumed from the latest checkpoint {latest}' in _run_log(work)


def test_resume_path(setup, tmp_path):
    path = osp.join(setup['run'], 'iter_1.pth')
    runner = _start(setup['config'], str(tmp_path / 'other'), resume=path)
    assert runner.iter == 1
    same, total = _equal_backbone_tensors(runner, path)
    assert same == total
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        _start(setup['config'], str(tmp_path / 'third'), resume=str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('how', ['--resume', 'resume=True'])
def test_moved_work_dir_resumes_its_own_checkpoint(setup, tmp_path, how):
    """An experiment folder moved to another mount: ``last_checkpoint`` names the old path.
    ``--resume`` (tools/train.py) and ``resume=True`` in the config (mmengine's own resume,
    as under ``mim train``) both continue from the moved folder's checkpoint."""
    old, new = str(tmp_path / 'old_mount' / 'run'), str(tmp_path / 'new_mount' / 'run')
    shutil.copytree(setup['run'], old)
    with open(osp.join(old, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(old, 'iter_2.pth'))
    shutil.move(osp.dirname(old), osp.dirname(new))
    assert not osp.exists(old) and toy_run.last_checkpoint(new) == osp.join(old, 'iter_2.pth')
    if how == '--resume':
        cfg = merge_train_args(Config.fromfile(setup['config']),
                               _args(setup['config'], new, 'auto'))
    else:
        cfg = Config.fromfile(setup['config'])
        cfg.update(work_dir=new, resume=True, load_from=None)
    cfg.experiment_name = experiment_name('moved')
    runner = Runner.from_cfg(cfg)
    runner.train()  # the run had finished its 2 iterations: resumes and stops
    assert runner.iter == 2
    same, total = _equal_backbone_tensors(runner, osp.join(new, 'iter_2.pth'))
    assert same == total


def test_checkpoints_without_last_checkpoint_are_resumed(setup, tmp_path):
    """Checkpoints copied without ``last_checkpoint``: the highest one is resumed, not
    training from scratch over them."""
    work = str(tmp_path / 'copied')
    os.makedirs(work)
    for name in ('iter_1.pth', 'iter_2.pth'):
        shutil.copy(osp.join(setup['run'], name), work)
    runner = _start(setup['config'], work, resume='auto')
    assert runner.iter == 2
