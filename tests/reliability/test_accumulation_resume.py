"""Resume is exact for a run without a seed, also mid-accumulation.

The shrunk toy joint recipe with the paper configs' loop and randomness
(``EpochBasedTrainLoop``, ``DualDatasetSampler``, ``seed=None``),
``accumulative_counts=2`` and an epoch of 3 iterations (3 videos + 3 images,
1 + 1 per batch): the epoch-1 checkpoint is written after iteration 3, between
the optimizer steps of iterations 2 and 4, so the gradient of iteration 3 is
accumulated but not applied.

* mmengine does not save that gradient: the resumed run stepped at iteration 4
  with half of it and ended up to 1.7e-3 away from the uninterrupted run.
  ``AccumulatedGradsHook`` stores it in the checkpoint and restores it.
* Without a seed, mmengine draws one per process; the resumed process built its
  sampler with its own, so epoch 2 trained on other batches (2.3e-3 away).
  ``RNGStateHook`` gives the sampler the checkpoint's seed.

In process: the uninterrupted run (2 epochs); the job killed right after
writing ``epoch_1.pth`` is its work dir at that moment (``epoch_1.pth`` and
``last_checkpoint``), resumed with ``--resume`` by another Runner, which draws
its own seed. Same computation: the weights must be equal.
"""
import os
import os.path as osp
import shutil
from argparse import Namespace

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import toy_run
from bevt_mm.engine import merge_train_args
from bevt_mm.engine.hooks.accumulated_grads import KEY
from bevt_mm.utils.safe_load import load_checkpoint_file

from experiment_names import experiment_name


@pytest.fixture(scope='module')
def config(rel_tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp('accum')
    media = toy_run.make_media(str(root / 'media'), num_videos=3, num_images=3)
    out = str(root / 'toy_accum.py')
    cfg = toy_run.toy_config(media, rel_tokenizer, str(root / 'unused'), out, max_iters=6,
                             videos=1, images=1)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2)
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.default_hooks.checkpoint.update(by_epoch=True, interval=1)
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.type != 'ProbeHook']  # time
    cfg.randomness = dict(seed=None, deterministic=True)  # no seed, as the paper configs
    cfg.dump(out)
    return out


def _runner(config, work_dir, resume=None):
    args = Namespace(config=config, work_dir=work_dir, resume=resume, amp=False,
                     no_validate=False, auto_scale_lr=False, seed=None, diff_rank_seed=False,
                     deterministic=False, cfg_options=None, launcher='none')
    cfg = merge_train_args(Config.fromfile(config), args)
    cfg.experiment_name = experiment_name('accumulation')
    return Runner.from_cfg(cfg)


def _weights(runner):
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.slow
def test_resume_mid_accumulation_without_seed_matches_uninterrupted_run(config, tmp_path):
    reference = _runner(config, str(tmp_path / 'ref'))
    reference.train()
    assert reference.iter == 6  # 2 epochs x 3 iterations: steps after 2, 4, 6
    expected = _weights(reference)
    saved = load_checkpoint_file(osp.join(tmp_path, 'ref', 'epoch_1.pth'))
    assert saved['meta']['iter'] == 3
    assert KEY in saved and saved[KEY]['inner_count'] == 3

    work = str(tmp_path / 'killed')  # the killed job's work dir
    os.makedirs(work)
    shutil.copy(osp.join(tmp_path, 'ref', 'epoch_1.pth'), work)
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'epoch_1.pth'))
    resumed = _runner(config, work, resume='auto')
    resumed.train()
    assert resumed.iter == 6
    assert resumed.seed == saved['meta']['seed']  # mmengine re-seeds from the checkpoint
    got = _weights(resumed)
    worst = max((got[k].float() - expected[k].float()).abs().max().item() for k in expected)
    assert worst == 0, f'resumed weights differ from the uninterrupted run by up to {worst:.3g}'
    assert resumed.train_dataloader.sampler.seed == reference.train_dataloader.sampler.seed
