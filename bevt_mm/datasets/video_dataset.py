"""Video list dataset that survives unreadable and too-short videos."""
import os.path as osp
from typing import Callable, List, Optional, Tuple, Type, Union

from mmengine.utils import check_file_exist

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from .ann_list import read_annotation_list, windows_separators_to_posix
from .robust import RobustLoadingMixin


@DATASETS.register_module()
class RobustVideoDataset(RobustLoadingMixin, VideoDataset):
    """MMAction2's ``VideoDataset`` with robust loading.

    Same annotation format (``path [label]`` per line, ``path label label
    ...`` with ``multi_class``; unlabeled lists are fine for pretraining),
    read whatever editor saved it (UTF-8 BOM, CRLF: see
    :func:`~.ann_list.read_list_lines`); a malformed line raises
    :class:`~.ann_list.AnnotationFormatError` naming the list and the line,
    and with ``num_classes`` a label outside ``0..num_classes - 1`` raises
    :class:`~.ann_list.LabelRangeError` when the dataset is built (the
    fine-tuning configs give it the head's ``num_classes``). A path may
    contain spaces; ``\\`` separators of a list written on Windows are read
    as ``/`` (:func:`~.ann_list.windows_separators_to_posix`).

    A video that decord cannot open or decode (truncated download, no video
    stream, a codec decord lacks, garbage ...), a missing file, or one that
    ``CheckVideoLength`` rejects, is logged with its path, counted
    (:attr:`num_failed`, :attr:`failed_paths`) and, in training, replaced by
    another random video; in ``test_mode`` it is left out of the metric by
    ``RobustEvaluator`` (see :mod:`bevt_mm.datasets.robust`).

    Args:
        ann_file (str): annotation list.
        pipeline (list): transforms.
        max_refetch (int): replacement attempts per sample before raising.
            Defaults to 50.
        catch_errors (tuple, optional): exception types treated as unreadable
            files anywhere in the pipeline (default: ``OSError``,
            ``RuntimeError``, ``EOFError``); any exception of a loader
            transform (``DecordInit``, ``DecordDecode`` ...: decord's
            ``DECORDError``, ``AssertionError``) is one too.
        max_consecutive_failures (int): samples failing in a row (this
            process) after which the original error is raised: a config
            mistake, not bad files. Defaults to 10.
        **kwargs: ``VideoDataset`` arguments (``data_prefix``,
            ``num_classes``, ``multi_class``, ``test_mode`` ...).
    """

    def __init__(self, ann_file: str, pipeline: List[Union[dict, Callable]],
                 max_refetch: int = 50,
                 catch_errors: Optional[Tuple[Type[BaseException], ...]] = None,
                 max_consecutive_failures: int = 10,
                 **kwargs) -> None:
        self._init_robust(catch_errors, max_consecutive_failures)
        super().__init__(ann_file, pipeline, max_refetch=max_refetch, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the list strictly (see :func:`~.ann_list.read_annotation_list`)."""
        check_file_exist(self.ann_file)
        if self.multi_class and self.num_classes is None:
            raise ValueError(f'{type(self).__name__}(multi_class=True) needs num_classes '
                             f'({self.ann_file})')
        prefix = self.data_prefix.get('video')
        rows = read_annotation_list(self.ann_file, self.delimiter, multi_label=self.multi_class,
                                    num_classes=self.num_classes)
        paths = windows_separators_to_posix([path for path, _ in rows], prefix, self.ann_file)
        return [dict(filename=osp.join(prefix, path) if prefix is not None else path,
                     label=label) for path, (_, label) in zip(paths, rows)]
