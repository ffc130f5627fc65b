"""Shims for upstream breakage in the pinned OpenMMLab stack.

Every shim here fixes one measured problem of the pinned versions
(torch 2.14.1, mmengine 0.10.7, mmaction2 1.2.0) and is applied once, when
``bevt_mm`` is imported. Each one checks whether the problem is present, so a
fixed upstream release makes it a no-op. Nothing else in bevt_mm patches
upstream code.

1. ``mmaction.models.localizers.drn`` is missing from the mmaction2 1.2.0
   wheel on PyPI, so ``import mmaction.models`` raises ModuleNotFoundError
   (open-mmlab/mmaction2#2714). We provide the module with a ``DRN`` entry
   that raises a clear error if someone builds it; everything else in
   ``mmaction.models`` imports normally.
2. torch >= 2.6 defaults ``torch.load(weights_only=True)``, but mmengine
   0.10.7 calls ``torch.load`` without the argument, so loading or resuming an
   mmengine checkpoint (which pickles message-hub history and numpy arrays and
   scalars) fails. We keep torch's protection and widen it only by the types
   such checkpoints hold (:mod:`bevt_mm.utils.safe_load`): mmengine's
   local-file loader is re-registered to load with ``weights_only=True`` and
   that allowlist, and every other scheme (http, open-mmlab, s3...) runs with
   torch's default under the same allowlist. A file whose pickle needs
   anything else is refused before any of its code runs, for our models and
   for stock MMAction2 models alike, with an error naming the file, the
   refused global and the opt-in for a trusted file
   (``BEVT_TRUST_CHECKPOINTS=1``).
3. ``mmaction.models.backbones.SwinTransformer3D.train()`` returns None, so
   ``model.eval()`` and ``model.train()`` cannot be chained. We make it
   return the module, as ``nn.Module.train`` does.
4. mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``
   before ``init_process_group`` whatever the backend, so ``tools/dist_train.sh``
   fails on a machine without GPU ("Found no NVIDIA driver") even with gloo.
   Without CUDA we skip that call; with CUDA nothing changes.
5. mmaction2 1.2.0's ``BaseHead.loss_by_feat`` computes the training top-k
   accuracy with ``cls_scores.detach().cpu().numpy()``, which raises
   "Got unsupported ScalarType BFloat16" for bf16 scores, so no recognizer
   trains under bf16 autocast (AMP on CPU, :class:`CPUAmpOptimWrapper`). We
   pass bf16 scores on as fp32 (the loss is computed in fp32 under autocast
   anyway); other dtypes are untouched.
6. mmengine 0.10.7 finds installed packages (``mmaction::`` config bases,
   ``is_installed``) through ``pkg_resources``, which setuptools >= 81 no
   longer ships, so no config with a ``mmaction::`` base loads there. When
   ``pkg_resources`` is missing we answer the same questions from
   ``importlib.metadata``; with it present nothing changes.

Before any shim, :func:`check_mmcv` checks that some mmcv (``mmcv-lite`` or
full ``mmcv``, which install into the same ``mmcv/`` folder) in the range
MMAction2 1.2 accepts is importable, and says how to get one if not.
"""
import importlib.util
import os.path as osp
import sys
import types
from typing import List

import torch

#: Names of the shims applied in this process (for tests and bug reports).
APPLIED: List[str] = []

_DRN_MESSAGE = (
    'DRN is not available: the mmaction2 1.2.0 wheel on PyPI ships without '
    '`mmaction/models/localizers/drn` (open-mmlab/mmaction2#2714). Install '
    'mmaction2 from source to use DRN; bevt_mm does not need it.')


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


def patch_missing_drn() -> bool:
    """Provide ``mmaction.models.localizers.drn`` when the wheel lacks it.

    Returns:
        bool: True if the shim was installed, False if not needed.
    """
    name = 'mmaction.models.localizers.drn'
    if name in sys.modules:
        return False
    drn_dir = osp.join(_mmaction_dir(), 'models', 'localizers', 'drn')
    if osp.isdir(drn_dir):
        return False

    from mmengine.model import BaseModel

    class DRN(BaseModel):
        """Stand-in for mmaction2's DRN localizer, absent from the wheel."""

        def __new__(cls, *args, **kwargs):
            raise ImportError(_DRN_MESSAGE)

        def forward(self, *args, **kwargs):  # pragma: no cover - never built
            raise ImportError(_DRN_MESSAGE)

    package = types.ModuleType(name, 'Missing from the mmaction2 1.2.0 wheel; see bevt_mm.compat.')
    package.__path__ = []  # a package, so ``.drn.drn`` resolves
    module = types.ModuleType(f'{name}.drn')
    DRN.__module__ = module.__name__
    module.DRN = DRN
    package.drn = module
    sys.modules[name] = package
    sys.modules[f'{name}.drn'] = module
    # Register under the name upstream uses once mmaction.models imports it.
    from mmaction.registry import MODELS
    MODELS.register_module(name='DRN', module=DRN, force=True)
    return True


def patch_checkpoint_loading() -> bool:
    """Make mmengine's checkpoint loaders restricted with bevt_mm's allowlist.

    Returns:
        bool: True if the loaders were replaced, False if this torch has no
        ``weights_only`` (nothing to keep) or they already are.
    """
    import inspect

    if 'weights_only' not in inspect.signature(torch.load).parameters:
        return False
    from mmengine.runner.checkpoint import CheckpointLoader

    from bevt_mm.utils.safe_load import call_restricted, load_checkpoint_file

    original = CheckpointLoader.load_checkpoint.__func__
    if getattr(original, '_bevt_patched', False):
        return False

    def load_from_local(filename: str, map_location=None):
        """Load a checkpoint from a local path, restricted (bevt_mm.compat)."""
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return load_checkpoint_file(filename, map_location=map_location)

    def load_checkpoint(cls, filename, map_location=None, logger='current'):
        return call_restricted(filename, original, cls, filename, map_location, logger)

    load_checkpoint._bevt_patched = True
    load_checkpoint.__doc__ = original.__doc__
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.load_checkpoint = classmethod(load_checkpoint)
    return True


def patch_swin_train_return() -> bool:
    """Make ``SwinTransformer3D.train`` return the module.

    Returns:
        bool: True if patched, False if upstream already returns the module.
    """
    from mmaction.models.backbones.swin import SwinTransformer3D

    original = SwinTransformer3D.train
    if getattr(original, '_bevt_patched', False):
        return False

    def train(self, mode: bool = True):
        result = original(self, mode)
        return self if result is None else result

    train._bevt_patched = True
    train.__doc__ = original.__doc__
    SwinTransformer3D.train = train
    return True


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
    """Apply every shim that is needed; returns the names of those applied."""
    check_mmcv()
    for name, fn in (('pkg_resources_lookup', patch_pkg_resources_lookup),
                     ('missing_drn', patch_missing_drn),
                     ('checkpoint_weights_only', patch_checkpoint_loading),
                     ('swin_train_return', patch_swin_train_return),
                     ('cpu_dist_init', patch_cpu_dist_init),
                     ('head_bf16_scores', patch_head_bf16_scores)):
        if name not in APPLIED and fn():
            APPLIED.append(name)
    return list(APPLIED)
