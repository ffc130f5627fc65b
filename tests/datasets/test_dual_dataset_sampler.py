"""DualDatasetSampler: layout, ranks, seeding, epochs, resume, mmengine loops."""
import pytest
import torch
from mmengine.dataset import BaseDataset, ConcatDataset
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from bevt_mm.datasets.samplers import DualDatasetSampler
from mmaction.registry import DATA_SAMPLERS

from experiment_names import experiment_name


class _Items(BaseDataset):
    """Index dataset: item i is (tag, i)."""

    def __init__(self, n, tag):
        self.n, self.tag = n, tag
        super().__init__(serialize_data=False)

    def load_data_list(self):
        return [dict(i=i) for i in range(self.n)]

    def prepare_data(self, idx):
        return dict(tag=self.tag, i=idx)


def _concat(nv, ni):
    return ConcatDataset([_Items(nv, 'video'), _Items(ni, 'image')])


def _batches(sampler):
    n = len(sampler)
    idx = list(sampler)
    b = sampler.batch_size
    assert len(idx) == n and len(idx) % b == 0
    return [idx[k:k + b] for k in range(0, len(idx), b)]


def test_layout_videos_first_then_images():
    ds = _concat(10, 40)
    s = DATA_SAMPLERS.build(dict(type='DualDatasetSampler', videos_per_gpu=2, images_per_gpu=8,
                                 seed=0, rank=0, world_size=1), default_args=dict(dataset=ds))
    assert s.batch_size == 10 and s.num_batches == 5
    for batch in _batches(s):
        assert all(i < 10 for i in batch[:2]) and all(i >= 10 for i in batch[2:])
    s.check_batch_size(10)
    with pytest.raises(ValueError):
        s.check_batch_size(8)


@pytest.mark.parametrize('nv,ni,v,i,repeat',
                         [(16, 64, 2, 8, 1), (8, 32, 2, 4, 5), (12, 30, 3, 5, 1)])
def test_two_ranks_disjoint_and_cover(nv, ni, v, i, repeat):
    ds = _concat(nv, ni)
    ranks = [DualDatasetSampler(ds, v, i, image_repeat=repeat, seed=3, rank=r, world_size=2)
             for r in range(2)]
    assert ranks[0].num_batches == ranks[1].num_batches
    per_rank = []
    for s in ranks:
        idx = list(s)
        per_rank.append(([k for k in idx if k < nv], [k - nv for k in idx if k >= nv]))
    # first pass over each stream: disjoint between ranks, covering the data
    for stream, size in ((0, nv), (1, ni)):
        firsts = []
        for r in range(2):
            firsts.append(per_rank[r][stream][:size // 2])
        assert set(firsts[0]).isdisjoint(firsts[1])
        assert set(firsts[0]) | set(firsts[1]) == set(range(size))
    # the image set is seen `repeat` times per epoch (longer stream)
    if repeat > 1:
        images = per_rank[0][1] + per_rank[1][1]
        assert len(images) == ni * repeat
        assert all(images.count(k) == repeat for k in range(ni))


@pytest.mark.parametrize('epoch_length', ['max', 'video', 'image'])
@pytest.mark.parametrize('nv,ni,v,i,world,repeat', [
    (7, 23, 2, 5, 1, 1), (7, 23, 2, 5, 2, 1), (5, 9, 3, 2, 2, 3), (10, 3, 4, 1, 3, 1)])
def test_uneven_sizes_keep_the_last_partial_batch(nv, ni, v, i, world, repeat, epoch_length):
    """Stream sizes that the batches do not divide: the epoch's last batch of the stream that
    sets the epoch length is partial; it is kept (filled from the next pass), so every sample of
    that stream is seen each epoch, ``repeat`` times for the images."""
    import math
    ds = _concat(nv, ni)
    ranks = [DualDatasetSampler(ds, v, i, image_repeat=repeat, epoch_length=epoch_length,
                                seed=2, rank=r, world_size=world) for r in range(world)]
    batches = {'video': math.ceil(nv / (world * v)),
               'image': math.ceil(ni * repeat / (world * i))}
    expected = batches[epoch_length] if epoch_length != 'max' else max(batches.values())
    videos, images = [], []
    for s in ranks:
        assert s.num_batches == expected
        for batch in _batches(s):  # every batch full: v videos, then i images
            assert all(k < nv for k in batch[:v]) and all(k >= nv for k in batch[v:])
            videos += batch[:v]
            images += [k - nv for k in batch[v:]]
    assert batches[epoch_length if epoch_length != 'max' else 'video'] <= expected
    if batches['video'] <= expected:  # the epoch is long enough to see every video
        assert set(videos) == set(range(nv))
    if batches['image'] <= expected:
        assert all(images.count(k) >= repeat for k in range(ni))


def test_epoch_length_modes_and_cycling():
    ds = _concat(4, 64)  # 4 videos, 64 images; 2 + 8 per batch
    assert DualDatasetSampler(ds, 2, 8, seed=0, rank=0, world_size=1).num_batches == 8
    assert DualDatasetSampler(ds, 2, 8, epoch_length='video', seed=0, rank=0,
                              world_size=1).num_batches == 2
    s = DualDatasetSampler(ds, 2, 8, seed=0, rank=0, world_size=1)
    videos = [k for b in _batches(s) for k in b[:2]]
    # the short video stream cycles: every video 4 times, each pass a permutation
    assert all(videos.count(k) == 4 for k in range(4))
    for p in range(4):
        assert sorted(videos[4 * p:4 * p + 4]) == [0, 1, 2, 3]


def test_seed_and_epoch():
    ds = _concat(20, 50)
    a = list(DualDatasetSampler(ds, 2, 5, seed=7, rank=0, world_size=1))
    b = list(DualDatasetSampler(ds, 2, 5, seed=7, rank=0, world_size=1))
    c = list(DualDatasetSampler(ds, 2, 5, seed=8, rank=0, world_size=1))
    assert a == b and a != c
    s = DualDatasetSampler(ds, 2, 5, seed=7, rank=0, world_size=1)
    s.set_epoch(1)
    e1 = list(s)
    assert e1 != a and sorted(e1) == sorted(a)
    s.set_epoch(0)
    assert list(s) == a
    unshuffled = list(DualDatasetSampler(ds, 2, 5, shuffle=False, seed=7, rank=0, world_size=1))
    assert unshuffled[:7] == [0, 1, 20, 21, 22, 23, 24]


@pytest.mark.parametrize('nv,ni', [(20, 50), (7, 23)])  # even and uneven stream sizes
def test_resume_at_iteration_k(nv, ni):
    ds = _concat(nv, ni)
    full = _batches(DualDatasetSampler(ds, 2, 5, seed=1, rank=1, world_size=2))
    for k in (0, 3, len(full) - 1, len(full)):
        s = DualDatasetSampler(ds, 2, 5, seed=1, rank=1, world_size=2)
        s.set_start_batch(k)
        assert _batches(s) == full[k:]
        assert _batches(s) == full  # only the next pass starts late


def test_dataloader_resume_like_mmengine():
    """mmengine resumes iteration-based runs by advancing the dataloader k steps."""
    ds = _concat(10, 40)

    def loader():
        s = DualDatasetSampler(ds, 2, 8, seed=5, rank=0, world_size=1)
        return DataLoader(ds, batch_size=s.batch_size, sampler=s, collate_fn=lambda x: x)

    full = [[(d['tag'], d['i']) for d in b] for b in loader()]
    it = iter(loader())
    for _ in range(3):
        next(it)
    rest = [[(d['tag'], d['i']) for d in b] for b in it]
    assert rest == full[3:]
    assert [t for t, _ in full[0]] == ['video'] * 2 + ['image'] * 8


class _Recorder(BaseModel):

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.batches = []

    def forward(self, inputs=None, data_samples=None, mode='loss', **kwargs):
        raise RuntimeError('unused')

    def train_step(self, data, optim_wrapper):
        self.batches.append(list(zip(data['tag'], [int(i) for i in data['i']])))
        loss = self.w.sum() * 0
        optim_wrapper.update_params(loss)
        return dict(loss=loss)


def _runner(tmp_path, name, loop, resume=False, load_from=None):
    return Runner(
        experiment_name=experiment_name('dual_sampler'),
        model=_Recorder(), work_dir=str(tmp_path / name),
        train_dataloader=dict(batch_size=10, num_workers=0, collate_fn=dict(type='pseudo_collate'),
                              sampler=dict(type='DualDatasetSampler', videos_per_gpu=2,
                                           images_per_gpu=8),
                              dataset=_concat(10, 40)),
        train_cfg=loop, optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
        default_scope='mmaction', randomness=dict(seed=11), resume=resume, load_from=load_from,
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=loop.get('by_epoch', True)),
                           logger=dict(type='LoggerHook', interval=100)),
        log_level='ERROR')


def test_mmengine_runner_epochs_and_resume(tmp_path):
    """Epoch-based runner: set_epoch changes the order; resuming from epoch 1 continues it."""
    full = _runner(tmp_path, 'full', dict(by_epoch=True, max_epochs=2))
    full.train()
    batches = full.model.batches
    assert len(batches) == 10  # 5 per epoch
    assert batches[:5] != batches[5:]
    part = _runner(tmp_path, 'part', dict(by_epoch=True, max_epochs=1))
    part.train()
    resumed = _runner(tmp_path, 'part', dict(by_epoch=True, max_epochs=2), resume=True)
    resumed.train()
    assert part.model.batches == batches[:5]
    assert resumed.model.batches == batches[5:]


def test_mmengine_runner_iteration_resume(tmp_path):
    """Iteration-based runner resumed at iteration 2 continues with batch 3."""
    full = _runner(tmp_path, 'full', dict(by_epoch=False, max_iters=4))
    full.train()
    part = _runner(tmp_path, 'part', dict(by_epoch=False, max_iters=2))
    part.train()
    resumed = _runner(tmp_path, 'part', dict(by_epoch=False, max_iters=4), resume=True)
    resumed.train()
    assert part.model.batches == full.model.batches[:2]
    assert resumed.model.batches == full.model.batches[2:]
