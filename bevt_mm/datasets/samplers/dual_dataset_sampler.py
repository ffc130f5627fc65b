"""Sampler that mixes a video and an image dataset in every batch.

BEVT trains both streams in every iteration: each GPU takes
``videos_per_gpu`` videos and ``images_per_gpu`` images (the recipe: 8 + 64).
The dataset is an mmengine ``ConcatDataset([video_dataset, image_dataset])``
(videos first); :class:`DualDatasetSampler` is an ordinary *sampler* that
yields indices into it in groups of ``videos_per_gpu + images_per_gpu``:
first the videos, then the images. The dataloader's ``batch_size`` must be
that sum, so each batch is exactly one group (a wrong size misaligns batches;
mmengine does not tell the sampler the batch size, so call
:meth:`check_batch_size` where you build the dataloader if you want it
checked).

Why a sampler and not a batch sampler: mmengine's ``Runner.build_dataloader``
always builds ``sampler`` and calls ``set_epoch`` on ``dataloader.sampler``;
a plain sampler keeps mmengine's default ``BatchSampler``, its
``DistSamplerSeedHook`` and its resume logic unchanged.

Semantics:

* **Streams.** Each dataset is a stream of shuffled passes ("cycles"); the
  image stream's epoch holds ``image_repeat`` cycles (the recipe repeats
  ImageNet 5x per epoch), the video stream ``video_repeat`` cycles.
* **Epoch length.** ``epoch_length='max'`` (default): as many batches as the
  longer stream needs to be seen once per epoch
  (``ceil(len * repeat / (world_size * per_gpu))``), while the shorter one
  keeps cycling with fresh permutations; ``'video'`` / ``'image'``: as many
  as that stream needs. ``len(sampler)`` = batches x group size.
* **Distributed.** The global order of each stream is the same on every rank
  (seeded by ``seed``, the epoch, the stream and the cycle); rank ``r`` takes
  positions ``r, r + W, ...`` of it, so within a cycle ranks see disjoint
  samples that together cover the dataset.
* **Seeded, epoch-aware, resumable.** The order depends only on ``seed``,
  ``set_epoch(epoch)``, ``rank`` and ``world_size``. mmengine resumes an
  iteration-based run by calling ``next`` on the dataloader ``k`` times
  (and ``set_epoch`` at each epoch end), an epoch-based run by
  ``set_epoch(epoch)``; both reproduce the uninterrupted order. Custom loops
  can call :meth:`set_start_batch` to skip ``k`` batches without loading them.

Config (joint recipe; the ratio is stated in plain numbers)::

    videos_per_gpu, images_per_gpu = 8, 64
    train_dataloader = dict(
        batch_size=videos_per_gpu + images_per_gpu,
        num_workers=8,
        persistent_workers=True,
        sampler=dict(type='DualDatasetSampler', videos_per_gpu=videos_per_gpu,
                     images_per_gpu=images_per_gpu, image_repeat=5),
        dataset=dict(type='ConcatDataset', datasets=[video_dataset, image_dataset]))
"""
import math
from typing import Iterator, List, Optional, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmaction.registry import DATA_SAMPLERS

_EPOCH_LENGTHS = ('max', 'video', 'image')


def _mix(*values: int) -> int:
    """Deterministic 63-bit seed from integers (same on every rank/Python)."""
    out = 0
    for value in values:
        out = (out * 1_000_003 + int(value)) % (1 << 63)
    return out


def _sub_lengths(dataset: Sized) -> List[int]:
    if hasattr(dataset, 'datasets'):
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        return [len(d) for d in dataset.datasets]
    raise TypeError('DualDatasetSampler needs a ConcatDataset([video_dataset, image_dataset]), '
                    f'got {type(dataset).__name__}')


@DATA_SAMPLERS.register_module()
class DualDatasetSampler(Sampler):
    """Batches of ``videos_per_gpu`` videos followed by ``images_per_gpu`` images.

    Args:
        dataset (ConcatDataset): ``ConcatDataset([video_dataset,
            image_dataset])``; mmengine passes it.
        videos_per_gpu (int): videos per batch on each rank. Defaults to 8.
        images_per_gpu (int): images per batch on each rank. Defaults to 64.
        image_repeat (int): passes over the image set per epoch. Defaults to 1
            (the recipe: 5).
        video_repeat (int): passes over the video set per epoch. Defaults to 1.
        epoch_length (str): ``'max'``, ``'video'`` or ``'image'`` (see the
            module docstring). Defaults to ``'max'``.
        shuffle (bool): shuffle each pass. Defaults to True.
        seed (int, optional): shared seed (mmengine passes the run's seed);
            None draws one and syncs it across ranks.
        rank (int, optional): override the distributed rank (tests).
        world_size (int, optional): override the world size (tests).
    """

    def __init__(self,
                 dataset: Sized,
                 videos_per_gpu: int = 8,
                 images_per_gpu: int = 64,
                 image_repeat: int = 1,
                 video_repeat: int = 1,
                 epoch_length: str = 'max',
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None) -> None:
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'rank {self.rank} outside world size {self.world_size}')
        lengths = _sub_lengths(dataset)
        if len(lengths) != 2:
            raise ValueError('expected ConcatDataset of [videos, images], got '
                             f'{len(lengths)} datasets')
        self.num_videos, self.num_images = lengths
        if videos_per_gpu < 0 or images_per_gpu < 0 or videos_per_gpu + images_per_gpu == 0:
            raise ValueError('videos_per_gpu and images_per_gpu must be >= 0, not both 0')
        for n, per, name in ((self.num_videos, videos_per_gpu, 'video'),
                             (self.num_images, images_per_gpu, 'image')):
            if per > 0 and n == 0:
                raise ValueError(f'{name}s_per_gpu={per} but the {name} dataset is empty')
        if epoch_length not in _EPOCH_LENGTHS:
            raise ValueError(f'epoch_length must be one of {_EPOCH_LENGTHS}, got {epoch_length!r}')
        self.dataset = dataset
        self.videos_per_gpu = int(videos_per_gpu)
        self.images_per_gpu = int(images_per_gpu)
        self.image_repeat = int(image_repeat)
        self.video_repeat = int(video_repeat)
        self.epoch_length = epoch_length
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        self._start_batch = 0
        self.num_batches = self._num_batches()

    @property
    def batch_size(self) -> int:
        """Samples per batch: ``videos_per_gpu + images_per_gpu``."""
        return self.videos_per_gpu + self.images_per_gpu

    def check_batch_size(self, batch_size: int) -> None:
        """Raise if a dataloader's ``batch_size`` does not match the groups."""
        if batch_size != self.batch_size:
            raise ValueError(f'train_dataloader.batch_size={batch_size} must equal '
                             f'videos_per_gpu + images_per_gpu = {self.batch_size} for '
                             'DualDatasetSampler')

    def _stream_batches(self, size: int, repeat: int, per_gpu: int) -> int:
        if per_gpu == 0:
            return 0
        return math.ceil(size * repeat / (self.world_size * per_gpu))

    def _num_batches(self) -> int:
        video = self._stream_batches(self.num_videos, self.video_repeat, self.videos_per_gpu)
        image = self._stream_batches(self.num_images, self.image_repeat, self.images_per_gpu)
        if self.epoch_length == 'video' and self.videos_per_gpu:
            return video
        if self.epoch_length == 'image' and self.images_per_gpu:
            return image
        return max(video, image)

    def _stream(self, stream: int, size: int, per_gpu: int) -> torch.Tensor:
        """This rank's indices of one stream for the current epoch."""
        needed = self.num_batches * per_gpu * self.world_size
        if needed == 0:
            return torch.zeros(0, dtype=torch.long)
        cycles = []
        for cycle in range(math.ceil(needed / size)):
            if self.shuffle:
                gen = torch.Generator()
                # one independent, reproducible permutation per
                # (seed, epoch, stream, cycle); identical on every rank
                gen.manual_seed(_mix(self.seed, self.epoch, stream, cycle))
                cycles.append(torch.randperm(size, generator=gen))
            else:
                cycles.append(torch.arange(size))
        order = torch.cat(cycles)[:needed]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[int]:
        videos = self._stream(0, self.num_videos, self.videos_per_gpu)
        images = self._stream(1, self.num_images, self.images_per_gpu) + self.num_videos
        v, i = self.videos_per_gpu, self.images_per_gpu
        start, self._start_batch = self._start_batch, 0
        for b in range(start, self.num_batches):
            yield from videos[b * v:(b + 1) * v].tolist()
            yield from images[b * i:(b + 1) * i].tolist()

    def __len__(self) -> int:
        return (self.num_batches - self._start_batch) * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's permutations (mmengine calls this)."""
        self.epoch = epoch

    def set_start_batch(self, batch: int) -> None:
        """Start the next iteration at batch ``batch`` of the current epoch."""
        if not 0 <= batch <= self.num_batches:
            raise ValueError(f'start batch {batch} outside [0, {self.num_batches}]')
        self._start_batch = batch
