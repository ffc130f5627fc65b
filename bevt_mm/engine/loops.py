"""An iteration-based train loop that resumes by positioning the sampler.

mmengine's ``IterBasedTrainLoop`` resumes at iteration ``k`` by loading and
discarding ``k`` batches ("Advance dataloader k steps"): every video is
decoded again (hours after a long run) and the discarded batches consume
random numbers, so the run after the resume point is not the one that was
interrupted. :class:`ResumableIterBasedTrainLoop` asks a sampler that can
(``set_start_batch`` and ``set_epoch``, e.g. :class:`DualDatasetSampler`)
to start at the right pass and batch, and loads nothing; with other
samplers it falls back to mmengine's behaviour. Everything else is
``IterBasedTrainLoop``, except that a loader without worker processes starts its
next pass without mmengine's 2 s pause (:class:`PassIterator`).
"""
import logging

import torch
from mmengine.logging import print_log
from mmengine.runner.loops import IterBasedTrainLoop, _InfiniteDataloaderIterator

from mmaction.registry import LOOPS


class PassIterator(_InfiniteDataloaderIterator):
    """mmengine's endless iterator over a loader, pass after pass.

    At the end of a pass mmengine sleeps 2 s before it starts the next one, to
    avoid a deadlock of worker processes; with ``num_workers=0`` there are none,
    so this iterator starts the next pass at once (same ``set_epoch`` call, same
    new iterator, same random numbers). With workers it is mmengine's.

    Args:
        dataloader (DataLoader): the loader to iterate, pass after pass.
        started (Iterator, optional): an iterator over ``dataloader`` already
            started (e.g. the one mmengine's loop made), taken over as the
            first pass instead of calling ``iter(dataloader)`` again (which
            draws a seed from torch's generator and restarts workers).
            Defaults to None.
    """

    def __init__(self, dataloader, started=None) -> None:
        if started is None:
            super().__init__(dataloader)
            return
        self._dataloader = dataloader
        self._iterator = started
        self._epoch = 0

    def __next__(self):
        if getattr(self._dataloader, 'num_workers', 0) > 0:
            return super().__next__()
        try:
            return next(self._iterator)
        except StopIteration:
            print_log('Reach the end of the dataloader, it will be restarted and continue to '
                      'iterate.', logger='current', level=logging.WARNING)
            self._epoch += 1
            sampler = getattr(self._dataloader, 'sampler', None)
            if not hasattr(sampler, 'set_epoch'):
                sampler = getattr(getattr(self._dataloader, 'batch_sampler', None), 'sampler',
                                  None)
            if hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(self._epoch)
            self._iterator = iter(self._dataloader)
            return next(self._iterator)


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose resume skips batches without loading them.

    Config: ``train_cfg = dict(type='ResumableIterBasedTrainLoop',
    max_iters=..., val_interval=...)``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # mmengine's loop already started a DataLoader iterator (it drew a seed from torch's
        # generator): the first pass continues it, without the pause between passes
        self.dataloader_iterator = PassIterator(self.dataloader,
                                                self.dataloader_iterator._iterator)

    def _skip_trained_batches(self) -> None:
        sampler = getattr(self.dataloader, 'sampler', None)
        if not (hasattr(sampler, 'set_start_batch') and hasattr(sampler, 'set_epoch')):
            print_log(f'Advance dataloader {self._iter} steps to skip data that has already '
                      'been trained', logger='current', level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            return
        per_pass = len(self.dataloader)
        epoch, start = divmod(self._iter, per_pass)
        if start == 0:
            # at a pass boundary: end the previous pass, so the next one starts (set_epoch,
            # new DataLoader iterator) exactly where the uninterrupted run started it
            epoch, start = epoch - 1, per_pass
        sampler.set_epoch(epoch)
        sampler.set_start_batch(start)
        # A new DataLoader iterator draws its base seed from torch's generator; the
        # uninterrupted run did not draw here, so keep the (restored) state as it is.
        rng = torch.get_rng_state()
        iterator = PassIterator(self.dataloader)
        torch.set_rng_state(rng)
        iterator._epoch = epoch
        self.dataloader_iterator = iterator
        print_log(f'Resuming at iteration {self._iter}: pass {epoch} of the sampler, '
                  f'batch {start} of {per_pass} (no batch re-loaded)', logger='current')

    def run(self):
        """Launch training (``IterBasedTrainLoop.run`` with the sampler skip)."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._skip_trained_batches()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
