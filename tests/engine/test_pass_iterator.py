"""ResumableIterBasedTrainLoop's endless loader iterator: passes follow each other at once."""
import time

import pytest
import torch
from torch.utils.data import DataLoader, Sampler

from bevt_mm.engine.loops import PassIterator


class _EpochSampler(Sampler):
    """A permutation of ``range(n)`` seeded by the epoch (as DistributedSampler)."""

    def __init__(self, n: int) -> None:
        self.n, self.epoch, self.epochs_set = n, 0, []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.epochs_set.append(epoch)

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=torch.Generator().manual_seed(self.epoch))
                    .tolist())

    def __len__(self) -> int:
        return self.n


def _perm(epoch, n=4):
    return torch.randperm(n, generator=torch.Generator().manual_seed(epoch)).tolist()


@pytest.mark.parametrize('n', [4, 5])  # passes of 2 full batches; of 2 full + 1 partial
def test_next_pass_starts_at_once_with_set_epoch_and_same_batches(n):
    sampler = _EpochSampler(n)
    loader = DataLoader(list(range(n)), batch_size=2, sampler=sampler, num_workers=0)
    iterator = PassIterator(loader)
    per_pass = len(loader)
    start = time.perf_counter()
    batches = [next(iterator).tolist() for _ in range(3 * per_pass)]  # 3 passes
    elapsed = time.perf_counter() - start
    expected = [p[i:i + 2] for p in (_perm(0, n), _perm(1, n), _perm(2, n))
                for i in range(0, n, 2)]
    assert batches == expected
    assert sampler.epochs_set == [1, 2] and iterator._epoch == 2
    assert elapsed < 1.0, elapsed  # mmengine's iterator sleeps 2 s per pass: 4 s here


def test_started_iterator_is_continued_without_drawing_a_seed():
    """The loop hands over mmengine's started iterator: no second ``iter(loader)``."""
    n = 4
    loader = DataLoader(list(range(n)), batch_size=2, sampler=_EpochSampler(n), num_workers=0)
    started = iter(loader)
    first = next(started).tolist()
    rng = torch.get_rng_state()
    iterator = PassIterator(loader, started)
    assert torch.equal(torch.get_rng_state(), rng)
    rest = [next(iterator).tolist() for _ in range(3)]
    assert [first] + rest == [_perm(0)[0:2], _perm(0)[2:4], _perm(1)[0:2], _perm(1)[2:4]]
