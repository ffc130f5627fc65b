"""Crash fixes for the supported OpenMMLab stack, applied when bevt_mm is imported.

Importing bevt_mm registers BEVT's types and removes the crashes below, and
changes nothing else of torch, mmengine, mmcv, MMAction2 or mmpretrain. Each
fix first checks that the crash is possible (the faulty call is in the
installed source, the missing module is missing, no CUDA ...); where it is
not, the stock code stays in place untouched. docs/architecture.md lists
them with their upstream bugs; ``tests/test_import_footprint.py`` holds the
number of stock attributes the import replaces.

Stock functions replaced by a wrapper that calls the original:

1. ``mmaction.models.heads.base.BaseHead.loss_by_feat``: mmaction2 1.2.0
   computes the training top-k accuracy with ``cls_scores.detach().cpu()
   .numpy()``, which raises "Got unsupported ScalarType BFloat16" for bf16
   scores, so no recognizer trains under bf16 autocast. The wrapper passes
   bf16 scores on as fp32 (the loss is computed in fp32 under autocast
   anyway); scores of any other dtype reach the original unchanged.
2. ``mmengine.dist.utils._init_dist_pytorch``: mmengine 0.10.7's
   ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` before
   ``init_process_group`` whatever the backend, so a gloo launch on a machine
   without CUDA fails ("Found no NVIDIA driver"). Without CUDA the wrapper
   skips that call for the duration of the original; with CUDA it calls the
   original as it is.
3. ``is_installed`` and ``get_installed_path`` of mmengine (``mmengine.utils``
   and the modules that imported them), only when ``pkg_resources`` is not
   importable: mmengine 0.10.7 answers them with ``pkg_resources``, which
   setuptools >= 81 no longer ships, so no config with an ``mmaction::`` base
   loads. The replacements answer from ``importlib.metadata``.

Widened, not replaced:

4. torch's ``weights_only`` allowlist: since torch 2.6 ``torch.load`` defaults
   to ``weights_only=True`` and mmengine 0.10.7 calls it without the argument,
   so loading or resuming an mmengine checkpoint fails on the types it holds
   (message-hub ``HistoryBuffer``, NumPy arrays and scalars).
   :func:`allow_checkpoint_globals` adds exactly those types
   (:func:`bevt_mm.utils.safe_load.checkpoint_globals`) with
   ``torch.serialization.add_safe_globals``; mmengine's loaders stay as they
   are, and torch still refuses any other global, so a pickle that would run
   code is refused by every stock load too.

Checked, not patched:

5. :func:`check_mmcv`: an mmcv in the range MMAction2 1.2 accepts.
6. :func:`check_mmaction_models`: the mmaction2 1.2.0 wheel on PyPI lacks
   ``mmaction/models/localizers/drn`` (open-mmlab/mmaction2#2714), so
   ``import mmaction.models`` raises ModuleNotFoundError. The package
   ``packaging/mmaction2-drn-stub`` installs that folder (a ``DRN`` that
   raises a clear error when built) for every tool, ``mim`` included, which
   never imports bevt_mm; without it ``import bevt_mm`` stops with the
   command that installs it.
"""
import importlib
import importlib.util
import os.path as osp
from typing import List

import torch

#: Names of the fixes applied in this process (for tests and bug reports).
APPLIED: List[str] = []


#: mmcv versions accepted by mmaction2 1.2 and mmpretrain 1.2 (both assert
#: at import); bevt_mm needs nothing beyond ``mmcv-lite``.
MMCV_MINIMUM_VERSION = '2.0.0rc4'
MMCV_MAXIMUM_VERSION = '2.2.0'


def check_mmcv() -> str:
    """Check that an mmcv in ``[MMCV_MINIMUM_VERSION, MMCV_MAXIMUM_VERSION)``
    is importable.

    bevt_mm does not require a particular mmcv distribution: ``mmcv-lite``
    (pure Python, all BEVT needs) and full ``mmcv`` (compiled ops) install
    into the same ``mmcv/`` folder, so installing one over the other breaks
    the first. Whichever is there is used.

    Returns:
        str: The mmcv version found.

    Raises:
        ImportError: If no mmcv is importable or its version is out of range.
    """
    fix = (f'bevt_mm needs mmcv>={MMCV_MINIMUM_VERSION},<{MMCV_MAXIMUM_VERSION}: '
           'pip install "mmcv-lite>=2.0.0rc4,<2.2.0" (all BEVT needs), or full mmcv '
           'in that range if other models need its compiled ops. Install only one of '
           'the two: they share the folder mmcv/.')
    if importlib.util.find_spec('mmcv') is None:
        raise ImportError(f'mmcv is not installed. {fix}')
    import mmcv
    from mmengine.utils import digit_version
    version = getattr(mmcv, '__version__', '0')
    if not (digit_version(MMCV_MINIMUM_VERSION) <= digit_version(version)
            < digit_version(MMCV_MAXIMUM_VERSION)):
        raise ImportError(f'mmcv {version} is installed ({osp.dirname(mmcv.__file__)}). {fix}')
    return version


def _module_of(dist) -> str:
    """The top-level module of an ``importlib.metadata`` distribution."""
    top = (dist.read_text('top_level.txt') or '').split()
    return top[0] if top else dist.metadata['Name'].replace('-', '_')


def _is_installed(package: str) -> bool:
    """``mmengine.utils.is_installed`` without pkg_resources."""
    from importlib import metadata
    try:
        metadata.distribution(package)
        return True
    except metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def _get_installed_path(package: str) -> str:
    """``mmengine.utils.get_installed_path`` without pkg_resources.

    Unlike upstream it also finds editable installs (the module's folder).
    """
    from importlib import metadata
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        module = package
    else:
        location = str(dist.locate_file(''))
        for name in (package, _module_of(dist)):
            if osp.isdir(osp.join(location, name)):
                return osp.join(location, name)
        module = _module_of(dist)
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise metadata.PackageNotFoundError(package)
    if spec.origin is None:
        raise RuntimeError(f'{package} is a namespace package, which is invalid '
                           'for `get_install_path`')
    return osp.dirname(spec.origin)


def patch_pkg_resources_lookup() -> bool:
    """Let mmengine resolve ``mmaction::`` config bases without pkg_resources.

    Returns:
        bool: True if patched, False if ``pkg_resources`` is importable.
    """
    if importlib.util.find_spec('pkg_resources') is not None:
        return False
    import mmengine.config.config as config_module
    import mmengine.utils as utils
    import mmengine.utils.package_utils as package_utils
    if getattr(package_utils.get_installed_path, '_bevt_patched', False):
        return False
    _is_installed._bevt_patched = _get_installed_path._bevt_patched = True
    import mmengine.hub.hub as hub_module
    for module in (package_utils, utils, config_module, hub_module):
        module.is_installed = _is_installed
        module.get_installed_path = _get_installed_path
    return True


def _mmaction_dir() -> str:
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('mmaction2 is not installed: pip install mmaction2==1.2.0')
    return list(spec.submodule_search_locations)[0]


#: The folder of the package that installs ``mmaction/models/localizers/drn``.
DRN_STUB = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'packaging',
                    'mmaction2-drn-stub')


def check_mmaction_models() -> None:
    """Import ``mmaction.models``; explain the wheel's missing ``drn`` folder if that fails.

    Raises:
        ImportError: ``mmaction.models.localizers.drn`` is missing (the
            mmaction2 1.2.0 wheel, open-mmlab/mmaction2#2714), with the
            command that installs it.
    """
    try:
        importlib.import_module('mmaction.models')
    except ModuleNotFoundError as err:
        if not (err.name or '').startswith('mmaction.models.localizers.drn'):
            raise
        where = DRN_STUB if osp.isdir(DRN_STUB) else 'packaging/mmaction2-drn-stub'
        raise ImportError(
            f'`import mmaction.models` fails: No module named {err.name!r}. The mmaction2 '
            f'wheel in {_mmaction_dir()} lacks that folder (open-mmlab/mmaction2#2714). '
            f'Install it (for bevt_mm, MMAction2\'s tools and mim alike) with:\n'
            f'    pip install --no-deps {where}\n'
            '(not -e; `pip uninstall mmaction2-drn-stub` removes it).') from err


def allow_checkpoint_globals() -> bool:
    """Add the types mmengine checkpoints hold to torch's ``weights_only`` allowlist.

    Returns:
        bool: True if entries were added, False if this torch has no allowlist
        or already holds them all.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    from bevt_mm.utils.safe_load import checkpoint_globals
    present = set(torch.serialization.get_safe_globals())
    missing = [g for g in checkpoint_globals() if g not in present]
    add(missing)
    return bool(missing)


def patch_cpu_dist_init() -> bool:
    """Let mmengine's PyTorch launcher initialize gloo without CUDA.

    Returns:
        bool: True if patched, False if upstream does not need it.
    """
    import inspect

    from mmengine.dist import utils as dist_utils

    original = dist_utils._init_dist_pytorch
    if getattr(original, '_bevt_patched', False):
        return False
    if 'torch.cuda.set_device' not in inspect.getsource(original):
        return False

    def _init_dist_pytorch(*args, **kwargs):
        if torch.cuda.is_available():
            return original(*args, **kwargs)
        set_device = torch.cuda.set_device
        torch.cuda.set_device = lambda device: None  # no GPU to select
        try:
            return original(*args, **kwargs)
        finally:
            torch.cuda.set_device = set_device

    _init_dist_pytorch._bevt_patched = True
    _init_dist_pytorch.__doc__ = original.__doc__
    dist_utils._init_dist_pytorch = _init_dist_pytorch
    return True


def patch_head_bf16_scores() -> bool:
    """Let MMAction2 heads compute their training loss from bf16 scores.

    Returns:
        bool: True if patched, False if upstream does not need it.
    """
    import inspect

    from mmaction.models.heads.base import BaseHead

    original = BaseHead.loss_by_feat
    if getattr(original, '_bevt_patched', False):
        return False
    if '.numpy()' not in inspect.getsource(original):
        return False

    def loss_by_feat(self, cls_scores, data_samples):
        if isinstance(cls_scores, torch.Tensor) and cls_scores.dtype == torch.bfloat16:
            cls_scores = cls_scores.float()
        return original(self, cls_scores, data_samples)

    loss_by_feat._bevt_patched = True
    loss_by_feat.__doc__ = original.__doc__
    BaseHead.loss_by_feat = loss_by_feat
    return True


def apply_all() -> List[str]:
    """Run the checks and apply every fix that is needed; returns the names of those applied."""
    check_mmcv()
    if 'pkg_resources_lookup' not in APPLIED and patch_pkg_resources_lookup():
        APPLIED.append('pkg_resources_lookup')
    check_mmaction_models()
    for name, fn in (('checkpoint_globals', allow_checkpoint_globals),
                     ('cpu_dist_init', patch_cpu_dist_init),
                     ('head_bf16_scores', patch_head_bf16_scores)):
        if name not in APPLIED and fn():
            APPLIED.append(name)
    return list(APPLIED)
