"""A cosine lr schedule that ends with the run, whatever its length.

mmengine's Runner sets a scheduler's ``end`` to the run's ``max_epochs`` (or
``max_iters``) when the config leaves it out, and ``CosineAnnealingLR`` takes
``T_max = end - begin`` when ``T_max`` is left out; with both left out the
cosine reaches ``eta_min`` at the last iteration of any run length set by
``train_cfg.max_epochs`` alone. Only a run that ends before the cosine's
``begin`` (e.g. one epoch after a one-epoch warm-up) fails there, with
``end should be larger than begin``: this subclass accepts such a run (the
cosine never starts).
"""
from mmengine.optim.scheduler import CosineAnnealingLR

from mmaction.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class RunCosineAnnealingLR(CosineAnnealingLR):
    """``CosineAnnealingLR`` that decays to ``eta_min`` at the end of the run.

    Leave ``end`` and ``T_max`` out of the config (the Runner sets ``end`` to
    the run's length; ``T_max`` follows as ``end - begin``)::

        dict(type='RunCosineAnnealingLR', eta_min=0, by_epoch=True, begin=1,
             convert_to_iter_based=True)

    Args:
        As mmengine's ``CosineAnnealingLR``; ``end <= begin`` (a run shorter
        than ``begin``) makes a scheduler that never acts instead of an error.
    """

    def __init__(self, optimizer, *args, begin: int = 0, end: int = None, **kwargs):
        if end is not None and end <= begin:
            end = begin + 1  # the run is over before the cosine starts
        super().__init__(optimizer, *args, begin=begin, end=end, **kwargs)
