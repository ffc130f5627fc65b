"""``bash tools/dist_train.sh CONFIG 2`` trains with 2 CPU processes (gloo).

What must match a 1-process run, and what is checked:

* **Data.** Each rank loads 1 video + 1 image per batch; the ranks' batches are
  disjoint, cover both datasets in a sampler pass, and together are exactly the
  samples that a 1-process run with 2 videos + 2 images per batch loads in the
  same iteration (same seed): DualDatasetSampler gives rank r the positions
  r, r + 2, ... of one global order.
* **Numbers.** Random augmentations and masks are drawn per process, so a
  1-process run does not produce the same *tensors* and its loss curve can only
  be compared loosely. The exact comparison is on the identical global batch:
  the batches the two ranks loaded are recorded (``dist_probe.DistProbeHook``)
  and concatenated into one 1-process batch. Its loss is the masked-token mean
  over the whole batch, i.e. the ranks' losses weighted by their masked-token
  counts; DDP's gradient is the average of the ranks' gradients. Both are
  recomputed in one process from the same initial weights and compared
  (BN-free model: LayerNorm/GroupNorm only; drop path off).

The same 2-process run is epoch 1 of a 3-epoch schedule (``convert_to_iter_based``),
resumed on 1 process by :func:`test_resume_on_one_process_follows_the_epoch_schedule`.
"""
import json
import math
import os.path as osp
import random
import shutil
import socket
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

V, I = 1, 1  # per rank and batch


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _concat(batches):
    """One batch of the ranks' batches: videos first, then images (the sampler's layout)."""
    inputs, samples = [], []
    for modality in ('video', 'image'):
        for b in batches:
            for x, s in zip(b['inputs'], b['data_samples']):
                if s.metainfo['modality'] == modality:
                    inputs.append(x)
                    samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory, rel_media, rel_tokenizer):
    tmp = tmp_path_factory.mktemp('dist')
    work_dir, config = str(tmp / 'work'), str(tmp / 'toy_dist.py')
    cfg = toy_run.toy_config(rel_media, rel_tokenizer, work_dir, config, max_iters=2,
                             videos=V, images=I, ckpt_interval=100)
    cfg.model.backbone.drop_path_rate = 0.0
    # epoch 1 (2 iterations) of 3 epochs: linear warm-up, then a cosine over epochs 2-3
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
             convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', T_max=2, eta_min=0, by_epoch=True, begin=1, end=3,
             convert_to_iter_based=True)]
    cfg.default_hooks.checkpoint.update(by_epoch=True, interval=1)
    cfg.custom_imports = dict(imports=['bevt_mm', 'dist_probe'], allow_failed_imports=False)
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h.type != 'ProbeHook'] + [
        dict(type='DistProbeHook')]
    cfg.env_cfg.dist_cfg = dict(backend='nccl')  # the recipe's; tools/train.py picks gloo
    cfg.dump(config)
    env = toy_run.env()
    env['PYTHONPATH'] = osp.dirname(osp.abspath(__file__)) + ':' + env['PYTHONPATH']
    env['PORT'] = str(_free_port())
    proc = toy_run.run(['bash', osp.join(toy_run.ROOT, 'tools', 'dist_train.sh'), config, '2'],
                       env=env, timeout=400)
    probes = [torch.load(osp.join(work_dir, f'probe_rank{r}.pt'), weights_only=False)
              for r in range(2)]
    return Config.fromfile(config), probes, proc.stdout + proc.stderr


def _split(files, media):
    videos = [f for f in files if f.startswith(media['video_root'])]
    return videos, [f for f in files if f not in videos]


@pytest.mark.slow
def test_two_gloo_processes_disjoint_samples(dist_run, rel_media):
    cfg, probes, log = dist_run
    assert [p['world_size'] for p in probes] == [2, 2]
    assert [p['backend'] for p in probes] == ['gloo', 'gloo']
    all_videos, all_images = set(), set()
    for it in range(2):
        per_rank = [_split(p['files'][it], rel_media) for p in probes]
        for r in range(2):
            assert (len(per_rank[r][0]), len(per_rank[r][1])) == (V, I)
        assert not set(per_rank[0][0]) & set(per_rank[1][0])
        assert not set(per_rank[0][1]) & set(per_rank[1][1])
        all_videos |= set(per_rank[0][0] + per_rank[1][0])
        all_images |= set(per_rank[0][1] + per_rank[1][1])
    assert len(all_videos) == 4 and len(all_images) == 4  # one pass covers both datasets

    # the same samples as one process with the global batch (2 videos + 2 images)
    from bevt_mm.datasets.samplers import DualDatasetSampler
    videos = [osp.join(rel_media['video_root'], line.split()[0])
              for line in open(rel_media['video_list']).read().splitlines() if line.strip()]
    images = [osp.join(rel_media['image_root'], line.split()[0])
              for line in open(rel_media['image_list']).read().splitlines() if line.strip()]
    names = videos + images

    class _Concat:
        datasets = [videos, images]

    sampler = DualDatasetSampler(_Concat(), 2 * V, 2 * I, image_repeat=1, epoch_length='video',
                                 seed=cfg.randomness['seed'], rank=0, world_size=1)
    single = list(sampler)
    for it in range(2):
        batch = {names[i] for i in single[it * 2 * (V + I):(it + 1) * 2 * (V + I)]}
        assert batch == set(probes[0]['files'][it]) | set(probes[1]['files'][it])


def test_matches_one_process_on_the_same_global_batch(dist_run):
    cfg, probes, log = dist_run
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    random.seed(0)
    model = MODELS.build(cfg.model)
    model.load_state_dict(probes[0]['init'])
    model.train()
    assert all(torch.equal(probes[0]['init'][k], probes[1]['init'][k]) for k in probes[0]['init'])

    # DDP: mean of the ranks' losses -> the gradient both ranks stepped with
    totals, streams = [], []
    for p in probes:
        data = model.data_preprocessor(p['batch0'], training=True)
        losses = model(**data, mode='loss')
        total, log_vars = model.parse_losses(losses)
        assert log_vars['loss'].item() == pytest.approx(p['outputs0']['loss'], abs=1e-5)
        totals.append(total)
        streams.append({k: (losses[f'loss_{k}'].item(),
                            int(data['inputs'][k]['target_mask'].sum()))
                        for k in ('image', 'video')})
    torch.stack(totals).mean().backward()
    for name, param in model.named_parameters():
        if param.grad is None:
            continue
        for p in probes:
            torch.testing.assert_close(p['grads'][name], param.grad, rtol=1e-4, atol=1e-6,
                                       msg=lambda m: f'{name}: {m}')

    # one process on the concatenated global batch: the masked-token mean over both ranks
    with torch.no_grad():
        data = model.data_preprocessor(_concat([p['batch0'] for p in probes]), training=True)
        assert data['inputs']['video']['inputs'].shape[0] == 2 * V
        assert data['inputs']['image']['inputs'].shape[0] == 2 * I
        glob = model(**data, mode='loss')
    for k in ('image', 'video'):
        expected = sum(loss * n for loss, n in (s[k] for s in streams)) / sum(
            n for _, n in (s[k] for s in streams))
        assert glob[f'loss_{k}'].item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_resume_on_one_process_follows_the_epoch_schedule(dist_run, tmp_path):
    """The 2-process job preempted after epoch 1 and resumed (``--resume``) on 1 process,
    same per-process batch: 4 iterations per epoch instead of 2. Schedules given in epochs
    were converted to iterations with 2 per epoch, and mmengine's resume loads those counts:
    the cosine ran out after 2 of epochs 2-3's 8 iterations and epoch 3 trained at a constant
    lr (1.46e-4 instead of decaying from 5e-4). ``ResumeHook`` rescales them (with a warning),
    so epochs 2-3 follow the cosine over 8 iterations."""
    cfg, _, _ = dist_run
    assert load_checkpoint_file(osp.join(cfg.work_dir, 'epoch_1.pth'))['meta']['iter'] == 2
    work = str(tmp_path / 'work')
    shutil.copytree(cfg.work_dir, work)  # the job's folder, on the 1-process machine
    args = Namespace(config=cfg.filename, work_dir=work, resume='auto', amp=False,
                     no_validate=False, auto_scale_lr=False, seed=None, diff_rank_seed=False,
                     deterministic=False, cfg_options=None, launcher='none')
    resumed = merge_train_args(Config.fromfile(cfg.filename), args)
    resumed.train_cfg.max_epochs = 3
    resumed.custom_hooks = [h for h in resumed.custom_hooks if h.type != 'DistProbeHook']
    resumed.experiment_name = experiment_name('world_size')
    runner = Runner.from_cfg(resumed)
    runner.train()
    assert runner.epoch == 3
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        lrs = [row['lr'] for row in map(json.loads, f) if 'lr' in row]
    base = cfg.optim_wrapper.optimizer.lr
    expected = [base * (1 + math.cos(math.pi * j / 8)) / 2 for j in range(8)]
    assert lrs == pytest.approx(expected, rel=1e-6), (lrs, expected)
    with open(osp.join(runner.log_dir, osp.basename(runner.log_dir) + '.log')) as f:
        assert 'rescaled by 4/2 to follow epochs' in f.read()
