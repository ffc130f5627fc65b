"""A toy joint pretraining killed with SIGKILL and resumed computes the uninterrupted losses.

``tools/train.py`` runs the shrunk toy joint recipe (tiny Swin, 4 videos + 4
images, 2 + 2 per batch, 2 batches per sampler pass, a checkpoint every
iteration, ``randomness=dict(seed=0, deterministic=True)``) in subprocesses:

* the reference runs 5 iterations uninterrupted;
* a second run is SIGKILLed once ``iter_2.pth`` exists (mid-run, mid-pass of the
  sampler), then restarted with ``--resume`` (latest checkpoint of the work dir);
* a third run starts from the reference's ``iter_4.pth`` with ``--resume PATH``
  (a pass boundary of the sampler).

After the resume point every logged loss and lr equals the reference's: the same
model, optimizer, scheduler, sampler position and RNG states (RNGStateHook,
ResumableIterBasedTrainLoop).
"""
import os
import os.path as osp
import signal
import subprocess
import time

import pytest
import torch

import toy_run
from bevt_mm.utils.safe_load import load_checkpoint_file

MAX_ITERS = 5


def _latest_run_losses(work_dir):
    """Losses of the last run in ``work_dir`` (its newest timestamp folder)."""
    stamps = sorted(d for d in os.listdir(work_dir)
                    if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    return toy_run.losses_by_iter(work_dir, stamps[-1:])


def _assert_same(resumed, reference, first_iter):
    assert sorted(resumed) == list(range(first_iter, MAX_ITERS + 1)), sorted(resumed)
    for it, row in resumed.items():
        for key, value in row.items():
            assert value == pytest.approx(reference[it][key], abs=1e-6, rel=0), (it, key)


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, rel_media, rel_tokenizer):
    ref_dir, kill_dir, exp_dir = (str(tmp_path / n) for n in ('ref', 'killed', 'explicit'))
    config = str(tmp_path / 'toy.py')
    toy_run.toy_config(rel_media, rel_tokenizer, ref_dir, config, max_iters=MAX_ITERS)
    log = open(tmp_path / 'ref.log', 'w')
    reference = subprocess.Popen(toy_run.train_cmd(config), cwd=toy_run.ROOT,
                                 env=toy_run.env(), stdout=log, stderr=subprocess.STDOUT)
    killed_log = open(tmp_path / 'killed.log', 'w')
    victim = subprocess.Popen(toy_run.train_cmd(config, '--work-dir', kill_dir),
                              cwd=toy_run.ROOT, env=toy_run.env(), stdout=killed_log,
                              stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while not osp.exists(osp.join(kill_dir, 'iter_2.pth')):
        assert victim.poll() is None, open(tmp_path / 'killed.log').read()[-3000:]
        assert time.time() < deadline, 'no checkpoint after 240 s'
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    resume_from = toy_run.last_checkpoint(kill_dir)
    done = int(osp.basename(resume_from)[len('iter_'):-len('.pth')])
    # killed mid-run; the kill may fall between writing iter_2.pth and updating
    # last_checkpoint, then the run resumes from iter_1.pth (equally valid)
    assert 1 <= done < MAX_ITERS, resume_from
    load_checkpoint_file(resume_from)  # intact, and loads restricted (weights_only)

    auto = subprocess.Popen(toy_run.train_cmd(config, '--work-dir', kill_dir, '--resume'),
                            cwd=toy_run.ROOT, env=toy_run.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert reference.wait(timeout=300) == 0, open(tmp_path / 'ref.log').read()[-3000:]
    explicit = toy_run.run(toy_run.train_cmd(config, '--work-dir', exp_dir, '--resume',
                                             osp.join(ref_dir, 'iter_4.pth')))
    auto_out = auto.communicate(timeout=300)[0]
    assert auto.returncode == 0, auto_out[-5000:]

    ref = toy_run.losses_by_iter(ref_dir)
    assert sorted(ref) == list(range(1, MAX_ITERS + 1))
    _assert_same(_latest_run_losses(kill_dir), ref, done + 1)
    _assert_same(_latest_run_losses(exp_dir), ref, 5)
    assert f'Resuming at iteration {done}' in auto_out
    assert 'Resuming at iteration 4' in explicit.stdout + explicit.stderr
    # the resumed run ends where the reference ends: same weights
    a = load_checkpoint_file(osp.join(ref_dir, f'iter_{MAX_ITERS}.pth'))['state_dict']
    b = load_checkpoint_file(osp.join(kill_dir, f'iter_{MAX_ITERS}.pth'))['state_dict']
    assert all(torch.equal(a[k], b[k]) for k in a)
