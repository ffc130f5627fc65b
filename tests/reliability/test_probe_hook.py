"""ProbeHook: logs the k-NN top-1 of the encoder and leaves the training state as it was.

The shrunk toy joint recipe (toy_run.toy_config: tiny Swin, 4 videos + 4 images,
deterministic, iteration-based, checkpoint every iteration) trains 4 iterations
three times in this process: without the hook, with the hook probing at the start
and every 2 iterations, and resumed from the hooked run's ``iter_2.pth`` with the
hook. Every loss and lr of the hooked and resumed runs equals the run without it.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import toy_run

from experiment_names import experiment_name

MAX_ITERS = 4


def _config(tmp_path, media, tokenizer, name, probe):
    cfg = toy_run.toy_config(media, tokenizer, str(tmp_path / name), str(tmp_path / f'{name}.py'),
                             max_iters=MAX_ITERS)
    hooks = [h for h in cfg.custom_hooks if h['type'] != 'ProbeHook']
    if probe:
        (probe_hook, ) = [h for h in cfg.custom_hooks if h['type'] == 'ProbeHook']
        probe_hook.update(by_epoch=False, interval=2, at_start=True)
        hooks.append(probe_hook)
    cfg.custom_hooks = hooks
    cfg.experiment_name = experiment_name(name)
    return Config(cfg.to_dict(), format_python_code=False)  # no yapf per checkpoint


def _train(cfg, resume_from=None):
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_probe_hook_logs_and_keeps_losses_and_resume_exact(tmp_path, rel_media, rel_tokenizer):
    plain = _config(tmp_path, rel_media, rel_tokenizer, 'plain', probe=False)
    probed = _config(tmp_path, rel_media, rel_tokenizer, 'probed', probe=True)
    _train(plain)
    runner = _train(probed)
    ref = toy_run.losses_by_iter(plain.work_dir)
    got = toy_run.losses_by_iter(probed.work_dir)
    assert sorted(ref) == list(range(1, MAX_ITERS + 1))
    for it in ref:  # the probe changes nothing the training sees (RNG, model mode, sampler)
        for key, value in ref[it].items():
            assert got[it][key] == pytest.approx(value, abs=1e-6, rel=0), (it, key)

    # logged at the start and every 2 iterations, per set and mean, in scalars.json
    rows = [r for r in toy_run.scalars(probed.work_dir) if 'probe/knn_top1' in r]
    assert [r['step'] for r in rows] == [0, 2, 4]
    for row in rows:
        assert row['probe/knn_top1'] == row['probe/toy/knn_top1']
        assert row['probe/knn_top1'] in (0.0, 25.0, 50.0, 75.0, 100.0)  # 4 val videos
    assert 'probe/knn_top1' in runner.message_hub.log_scalars
    (log_file, ) = glob.glob(osp.join(probed.work_dir, '*', '*.log'))
    lines = [line for line in open(log_file) if 'k-NN probe' in line]
    assert ['before training' in lines[0], 'after iter 2:' in lines[1],
            'after iter 4:' in lines[2]] == [True] * 3, lines
    assert runner.model.training  # still training mode after the last probe

    # resumed from iter 2 with the hook: iterations 3-4 as the uninterrupted run
    resumed_cfg = _config(tmp_path, rel_media, rel_tokenizer, 'resumed', probe=True)
    resumed = _train(resumed_cfg, resume_from=osp.join(probed.work_dir, 'iter_2.pth'))
    assert resumed.iter == MAX_ITERS
    after = toy_run.losses_by_iter(resumed_cfg.work_dir)
    assert sorted(after) == [3, 4]
    for it in after:
        for key, value in after[it].items():
            assert value == pytest.approx(ref[it][key], abs=1e-6, rel=0), (it, key)
    a = torch.load(osp.join(plain.work_dir, f'iter_{MAX_ITERS}.pth'), weights_only=False)
    b = torch.load(osp.join(resumed_cfg.work_dir, f'iter_{MAX_ITERS}.pth'), weights_only=False)
    assert all(torch.equal(a['state_dict'][k], b['state_dict'][k]) for k in a['state_dict'])


def test_probe_hook_names_a_missing_list(tmp_path):
    from bevt_mm.engine.hooks import ProbeHook
    hook = ProbeHook(data_root=str(tmp_path), sets=dict(toy_spatial=dict(
        data_prefix='nowhere', train='train_list.txt', val='val_list.txt')))
    with pytest.raises(FileNotFoundError, match=r'ProbeHook sets.toy_spatial.train: .*nowhere'):
        hook.probe(torch.nn.Linear(1, 1))
    with pytest.raises(ValueError, match='at least one set'):
        ProbeHook(sets={})
