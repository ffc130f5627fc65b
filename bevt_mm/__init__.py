"""bevt_mm: BEVT (BERT pretraining of video transformers) for MMAction2.

Importing the package registers every BEVT component into MMAction2's
registries (scope ``mmaction``) and applies the crash fixes listed in
:mod:`bevt_mm.compat` (nothing else of the stock stack changes), so configs
only need
``custom_imports = dict(imports=['bevt_mm'], allow_failed_imports=False)``.
Analysis and benchmark scripts live in ``tools/``, the toy demo in ``demo/``,
toy data generation in :mod:`bevt_mm.testing` (not imported here).
"""
from .utils.stack_warnings import MMCV_LITE_OPS, ignoring

with ignoring(*MMCV_LITE_OPS):  # mmcv-lite's missing ops, while MMAction2's models import
    from . import compat

    compat.apply_all()

    from . import datasets, engine, evaluation, models, utils  # noqa: F401
from .version import __version__  # noqa: E402,F401

__all__ = ['__version__', 'compat', 'datasets', 'engine', 'evaluation', 'models', 'utils']
