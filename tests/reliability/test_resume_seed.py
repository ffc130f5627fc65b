"""A run started without a seed resumes on the batches of the interrupted run.

The paper configs set no seed (``randomness=dict(seed=None)``): mmengine draws
one, stores it in every checkpoint's ``meta`` and, on resume, re-seeds the
global generators with it; but the train dataloader and its sampler are built
before the checkpoint is read, with the seed the resumed process drew. The
sampler then shuffled the epochs after the resume point differently from the
uninterrupted run (RNGStateHook now restores the seed).

The shrunk toy joint recipe with the paper configs' loop (``EpochBasedTrainLoop``,
``DualDatasetSampler``, 2 videos + 2 images per batch, 2 iterations per epoch),
deterministic, no seed: the uninterrupted 2-epoch run, and a run resumed
(``--resume PATH``) from its ``epoch_1.pth`` in another work dir, in another
Runner that draws its own seed. Same computation: the weights must be equal.
"""
import os.path as osp
from argparse import Namespace

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import toy_run
from bevt_mm.engine import merge_train_args
from bevt_mm.utils.safe_load import load_checkpoint_file

from experiment_names import experiment_name


@pytest.fixture(scope='module')
def config(rel_media, rel_tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp('resume_seed')
    out = str(root / 'toy_noseed.py')
    cfg = toy_run.toy_config(rel_media, rel_tokenizer, str(root / 'unused'), out, max_iters=4,
                             videos=2, images=2)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
    cfg.default_hooks.checkpoint.update(by_epoch=True, interval=1)
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.type != 'ProbeHook']  # time
    cfg.randomness = dict(seed=None, deterministic=True)  # as the paper configs
    cfg.dump(out)
    return out


def _runner(config, work_dir, name, resume=None):
    args = Namespace(config=config, work_dir=work_dir, resume=resume, amp=False,
                     no_validate=False, auto_scale_lr=False, seed=None, diff_rank_seed=False,
                     deterministic=False, cfg_options=None, launcher='none')
    cfg = merge_train_args(Config.fromfile(config), args)
    cfg.experiment_name = experiment_name(name)
    return Runner.from_cfg(cfg)


@pytest.mark.slow
def test_resume_without_seed_trains_on_the_interrupted_runs_batches(config, tmp_path):
    reference = _runner(config, str(tmp_path / 'ref'), 'seedless_ref')
    reference.train()
    assert reference.iter == 4
    epoch_1 = osp.join(tmp_path, 'ref', 'epoch_1.pth')
    seed = load_checkpoint_file(epoch_1)['meta']['seed']

    resumed = _runner(config, str(tmp_path / 'resumed'), 'seedless_resumed',
                      resume=epoch_1)
    resumed.train()
    assert resumed.iter == 4
    assert resumed.seed == seed
    expected = reference.model.state_dict()
    got = resumed.model.state_dict()
    worst = max((got[k].float() - expected[k].float()).abs().max().item() for k in expected)
    assert worst == 0, f'resumed weights differ from the uninterrupted run by up to {worst:.3g}'
    assert resumed.train_dataloader.sampler.seed == reference.train_dataloader.sampler.seed
