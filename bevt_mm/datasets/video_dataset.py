"""Video list dataset that survives unreadable and too-short videos."""
from typing import Callable, List, Optional, Tuple, Type, Union

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from .robust import RobustLoadingMixin


@DATASETS.register_module()
class RobustVideoDataset(RobustLoadingMixin, VideoDataset):
    """MMAction2's ``VideoDataset`` with robust loading.

    Same annotation format (``path [label]`` per line; unlabeled lists are
    fine for pretraining). A video that decord cannot open or decode, or that
    ``CheckVideoLength`` rejects, is logged with its path, counted
    (:attr:`num_failed`, :attr:`failed_paths`) and replaced by another random
    video (see :mod:`bevt_mm.datasets.robust`).

    Args:
        ann_file (str): annotation list.
        pipeline (list): transforms.
        max_refetch (int): replacement attempts per sample before raising.
            Defaults to 50.
        catch_errors (tuple, optional): exception types treated as unreadable
            files (default: ``OSError``, ``RuntimeError``, ``EOFError``).
        **kwargs: ``VideoDataset`` arguments (``data_prefix``, ...).
    """

    def __init__(self, ann_file: str, pipeline: List[Union[dict, Callable]],
                 max_refetch: int = 50,
                 catch_errors: Optional[Tuple[Type[BaseException], ...]] = None,
                 **kwargs) -> None:
        self._init_robust(catch_errors)
        super().__init__(ann_file, pipeline, max_refetch=max_refetch, **kwargs)
