"""A toy joint pretraining killed with SIGKILL and resumed computes the uninterrupted losses.

The shrunk toy joint recipe (tiny Swin, 4 videos + 4 images, 2 + 2 per batch,
2 batches per sampler pass, a checkpoint every iteration,
``randomness=dict(seed=0, deterministic=True)``, one torch thread) runs:

* ``tools/train.py`` in a subprocess, SIGKILLed once ``iter_2.pth`` exists
  (mid-run, mid-pass of the sampler), then restarted with ``tools/train.py
  --resume`` (latest checkpoint of the work dir) in another subprocess;
* meanwhile the reference, 5 iterations uninterrupted, in this process (a
  Runner of the same config: what ``tools/train.py`` builds);
* a third run, in this process, resumes from the reference's ``iter_4.pth``
  (``resume=True, load_from=PATH``: what ``--resume PATH`` sets; a pass boundary
  of the sampler).

After the resume point every logged loss and lr equals the reference's: the same
model, optimizer, scheduler, sampler position and RNG states (RNGStateHook,
ResumableIterBasedTrainLoop).
"""
import glob
import os
import os.path as osp
import signal
import subprocess
import threading
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import toy_run
from bevt_mm.utils.safe_load import load_checkpoint_file

from experiment_names import experiment_name

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


def _train_here(config, work_dir, resume_from=None):
    """Train ``config`` (a dumped file) in this process with one torch thread, as the
    subprocesses (``OMP_NUM_THREADS=1``) do; returns the run's log text."""
    cfg = Config.fromfile(config, format_python_code=False)
    cfg.work_dir = work_dir
    cfg.experiment_name = experiment_name('kill_resume')
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Runner.from_cfg(cfg).train()
    finally:
        torch.set_num_threads(threads)
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    return open(logs[-1]).read()


def _kill_at(victim, checkpoint, log_path, result):
    """SIGKILL ``victim`` once ``checkpoint`` exists (polled every 50 ms, 240 s at most)."""
    deadline = time.time() + 240
    while not osp.exists(checkpoint):
        if victim.poll() is not None:
            result['error'] = open(log_path).read()[-3000:]
            return
        if time.time() > deadline:
            result['error'] = 'no checkpoint after 240 s'
            return
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    result['code'] = victim.wait()


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, rel_media, rel_tokenizer):
    ref_dir, kill_dir, exp_dir = (str(tmp_path / n) for n in ('ref', 'killed', 'explicit'))
    config = str(tmp_path / 'toy.py')
    toy_run.toy_config(rel_media, rel_tokenizer, ref_dir, config, max_iters=MAX_ITERS)
    killed_log = str(tmp_path / 'killed.log')
    with open(killed_log, 'w') as out:
        victim = subprocess.Popen(toy_run.train_cmd(config, '--work-dir', kill_dir),
                                  cwd=toy_run.ROOT, env=toy_run.env(), stdout=out,
                                  stderr=subprocess.STDOUT)
    killed = {}
    killer = threading.Thread(target=_kill_at, daemon=True,
                              args=(victim, osp.join(kill_dir, 'iter_2.pth'), killed_log, killed))
    killer.start()
    _train_here(config, ref_dir)  # the reference, while the victim runs
    killer.join(timeout=300)
    assert 'error' not in killed, killed.get('error')
    assert killed.get('code') == -signal.SIGKILL
    resume_from = toy_run.last_checkpoint(kill_dir)
    done = int(osp.basename(resume_from)[len('iter_'):-len('.pth')])
    # killed mid-run; the kill may fall between writing iter_2.pth and updating
    # last_checkpoint, then the run resumes from iter_1.pth (equally valid)
    assert 1 <= done < MAX_ITERS, resume_from
    load_checkpoint_file(resume_from)  # intact, and loads restricted (weights_only)

    auto = subprocess.Popen(toy_run.train_cmd(config, '--work-dir', kill_dir, '--resume'),
                            cwd=toy_run.ROOT, env=toy_run.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    explicit_log = _train_here(config, exp_dir, resume_from=osp.join(ref_dir, 'iter_4.pth'))
    auto_out = auto.communicate(timeout=300)[0]
    assert auto.returncode == 0, auto_out[-5000:]

    ref = toy_run.losses_by_iter(ref_dir)
    assert sorted(ref) == list(range(1, MAX_ITERS + 1))
    _assert_same(_latest_run_losses(kill_dir), ref, done + 1)
    _assert_same(_latest_run_losses(exp_dir), ref, 5)
    assert f'Resuming at iteration {done}' in auto_out
    assert 'Resuming at iteration 4' in explicit_log
    # the resumed run ends where the reference ends: same weights
    a = load_checkpoint_file(osp.join(ref_dir, f'iter_{MAX_ITERS}.pth'))['state_dict']
    b = load_checkpoint_file(osp.join(kill_dir, f'iter_{MAX_ITERS}.pth'))['state_dict']
    assert all(torch.equal(a[k], b[k]) for k in a)
