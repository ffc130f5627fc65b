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
"""
import os.path as osp
import random
import socket

import pytest
import torch
from mmengine.config import Config

import toy_run

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
    cfg.custom_imports = dict(imports=['bevt_mm', 'dist_probe'], allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='DistProbeHook')]
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
