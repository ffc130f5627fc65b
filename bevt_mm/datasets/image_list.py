"""ImageNet-style image dataset for BEVT's image stream."""
import os
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple, Type, Union

from mmengine.dataset import BaseDataset

from mmaction.registry import DATASETS
from .ann_list import read_annotation_list, windows_separators_to_posix
from .robust import RobustLoadingMixin

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')

#: folder names that macOS zip archives add next to the data (AppleDouble copies inside)
SKIPPED_NAMES = ('__MACOSX',)


def _skipped(name: str) -> bool:
    """Hidden (``.DS_Store``, ``._x.JPEG``, ``.ipynb_checkpoints``) or ``__MACOSX``."""
    return name.startswith('.') or name in SKIPPED_NAMES


@DATASETS.register_module()
class ImageListDataset(RobustLoadingMixin, BaseDataset):
    """Images from an ImageNet-style list or class-folder tree.

    * List mode (``ann_file`` given): one ``relative/path.JPEG [label]`` per
      line (ImageNet's ``train.txt``), paths relative to ``data_prefix['img']``
      (read as :func:`~.ann_list.read_annotation_list` and
      :func:`~.ann_list.windows_separators_to_posix` say: spaces in names,
      ``\\`` separators).
    * Folder mode (``ann_file=''``): every image under ``data_prefix['img']``
      (recursively, sorted); with ``with_label=True`` the label is the index of
      the first-level folder among the sorted folder names (ImageNet ``train/``).
      Hidden files and folders (names starting with ``.``: macOS ``._*.JPEG``
      AppleDouble files, ``.ipynb_checkpoints``, ``.DS_Store``) and macOS zip
      residue (``__MACOSX``) are skipped: neither samples nor classes.

    Each sample is ``dict(img_path, filename, gt_label)``, loaded by
    ``LoadImageAsClip`` into a one-frame clip so MMAction2's transforms
    (``RandomRescale``, ``ColorJitter``, ``RandomCrop``, ``Flip``) and
    ``PackBEVTInputs`` handle images like videos. Unreadable images are
    logged, counted and replaced (:mod:`bevt_mm.datasets.robust`).

    The metainfo stays empty (no ``classes``), so the dataset concatenates
    with a video dataset in mmengine's ``ConcatDataset``. (mmpretrain's
    ``CustomDataset`` reads the same layouts but lives in mmpretrain's
    registry and puts ``classes`` into the metainfo, which ``ConcatDataset``
    would require the video dataset to share.)

    Args:
        ann_file (str): the list, or ``''`` for folder mode.
        pipeline (list): transforms.
        data_prefix (dict): ``dict(img=root)``.
        with_label (bool): read labels (pretraining ignores them).
        extensions (Sequence[str]): folder mode: file suffixes to take.
        delimiter (str): list mode separator. Defaults to ``' '``.
        num_classes (int, optional): list mode: every label must be in
            ``0..num_classes - 1`` (checked when the dataset is built).
        max_refetch (int): replacement attempts before raising. Defaults to 50.
        catch_errors (tuple, optional): see :class:`RobustLoadingMixin`.
        max_consecutive_failures (int): samples failing in a row (this
            process) after which the original error is raised: a config
            mistake, not bad files. Defaults to 10.
        **kwargs: ``BaseDataset`` arguments.
    """

    def __init__(self,
                 ann_file: str = '',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 data_prefix: Optional[dict] = None,
                 with_label: bool = True,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 delimiter: str = ' ',
                 num_classes: Optional[int] = None,
                 max_refetch: int = 50,
                 catch_errors: Optional[Tuple[Type[BaseException], ...]] = None,
                 max_consecutive_failures: int = 10,
                 **kwargs) -> None:
        self.with_label = with_label
        self.extensions = tuple(e.lower() for e in extensions)
        self.delimiter = delimiter
        self.num_classes = num_classes
        self._init_robust(catch_errors, max_consecutive_failures)
        super().__init__(ann_file=ann_file, data_prefix=data_prefix or dict(img=''),
                         pipeline=list(pipeline), max_refetch=max_refetch, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the list or scan the folder."""
        root = self.data_prefix.get('img', '') or ''
        samples = []
        if self.ann_file:
            rows = read_annotation_list(self.ann_file, self.delimiter, self.with_label,
                                        num_classes=self.num_classes)
            paths = windows_separators_to_posix([path for path, _ in rows], root, self.ann_file)
            samples = [(osp.join(root, path), label) for path, (_, label) in zip(paths, rows)]
        else:
            if not osp.isdir(root):
                raise FileNotFoundError(f'image folder {root!r} (data_prefix["img"]) not found')
            classes = sorted(d.name for d in os.scandir(root)
                             if d.is_dir() and not _skipped(d.name))
            class_index = {name: i for i, name in enumerate(classes)}
            for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
                dirnames[:] = sorted(d for d in dirnames if not _skipped(d))
                rel = osp.relpath(dirpath, root)
                label = class_index.get(rel.split(os.sep)[0], -1) if self.with_label else -1
                for name in sorted(filenames):
                    if not _skipped(name) and name.lower().endswith(self.extensions):
                        samples.append((osp.join(dirpath, name), label))
            if not samples:
                raise FileNotFoundError(
                    f'no images with extensions {self.extensions} under {root!r}')
        return [dict(img_path=p, filename=p, gt_label=lab) for p, lab in samples]
