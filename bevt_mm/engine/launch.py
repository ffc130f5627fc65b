"""Command-line glue shared by ``tools/train.py`` and ``tools/test.py``.

MMAction2's tools assume CUDA (``nccl``); these helpers let the same configs
run on CPU-only machines (``gloo``) and keep the CLI semantics of MMAction2
(``--resume``, ``--amp``, ``--cfg-options``, ``--work-dir``).
"""
import os.path as osp
import warnings
from argparse import Namespace
from typing import Any, Dict, Iterator, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log


def select_dist_backend(cfg: Config) -> str:
    """Use ``gloo`` when CUDA is absent, keeping a configured backend otherwise.

    Args:
        cfg: The config; ``cfg.env_cfg.dist_cfg.backend`` is updated in place.

    Returns:
        str: The backend that will be used.
    """
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    backend = dist_cfg.get('backend', 'nccl')
    if not torch.cuda.is_available() and backend == 'nccl':
        backend = 'gloo'
    dist_cfg['backend'] = backend
    return backend


def cpu_has_native_bf16(cpuinfo: Optional[str] = None) -> bool:
    """Whether the CPU computes bf16 natively (``avx512_bf16`` or ``amx_bf16``
    on x86, ``bf16`` on Arm), read from ``/proc/cpuinfo``.

    Without it, bf16 autocast is emulated and far slower than fp32
    (docs/install.md), so CPU AMP then trains in fp32.

    Args:
        cpuinfo: Text of ``/proc/cpuinfo``; read from the file when None.

    Returns:
        bool: False also where ``/proc/cpuinfo`` cannot be read.
    """
    if cpuinfo is None:
        try:
            with open('/proc/cpuinfo') as f:
                cpuinfo = f.read()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(':')
        if key.strip().lower() in ('flags', 'features'):
            flags.update(value.split())
    return bool(flags & {'avx512_bf16', 'amx_bf16', 'bf16'})


def adapt_to_device(cfg: Config, native_bf16: Optional[bool] = None) -> None:
    """Make a GPU recipe runnable where there is no GPU, in place.

    * ``nccl`` -> ``gloo`` (:func:`select_dist_backend`);
    * ``AmpOptimWrapper`` -> :class:`~bevt_mm.engine.CPUAmpOptimWrapper`
      (bf16 autocast, with a warning) on a CPU with native bf16
      (:func:`cpu_has_native_bf16`), else a plain ``OptimWrapper`` (fp32,
      with a warning; ``optim_wrapper.dtype='bfloat16'`` forces bf16):
      mmengine's AMP wrapper refuses to build without an accelerator. The loss
      scaler (needed for fp16 only) and an fp16 ``dtype`` are dropped;
      ``dtype='float32'`` gives fp32. Everything else in the optimizer config
      (accumulation, clipping, lr) stays.
    * DDP without ``device_ids``: mmengine wraps distributed models with
      ``device_ids=[LOCAL_RANK]``, which torch rejects for CPU modules; on CPU
      ``model_wrapper_cfg`` gets ``device_ids=None`` (used only when distributed).

    Args:
        cfg: The config, updated in place.
        native_bf16: Whether the CPU has native bf16; read from the CPU
            flags when None.
    """
    select_dist_backend(cfg)
    if torch.cuda.is_available():
        return
    optim_wrapper = cfg.get('optim_wrapper', None)
    if optim_wrapper and optim_wrapper.get('type') == 'AmpOptimWrapper':
        dtype = str(optim_wrapper.get('dtype', None)).replace('torch.', '')
        if native_bf16 is None:
            native_bf16 = cpu_has_native_bf16()
        if dtype == 'float32':
            optim_wrapper['type'] = 'OptimWrapper'  # fp32 asked for
        elif dtype != 'bfloat16' and not native_bf16:
            warnings.warn('No GPU and no native bf16 on this CPU (no avx512_bf16/amx_bf16 '
                          'flag): mixed precision would be emulated, far slower than fp32, so '
                          'training in fp32 (OptimWrapper; optim_wrapper.dtype=bfloat16 '
                          'forces bf16 autocast).')
            optim_wrapper['type'] = 'OptimWrapper'
        else:
            warnings.warn('No GPU: AmpOptimWrapper (mixed precision) is GPU-only in mmengine; '
                          'training with bf16 autocast on CPU (CPUAmpOptimWrapper; '
                          'optim_wrapper.dtype=float32 trains in fp32).')
            optim_wrapper['type'] = 'CPUAmpOptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            optim_wrapper.pop(key, None)
    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif wrapper_cfg.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper_cfg.setdefault('device_ids', None)


def check_dual_sampler(cfg: Config) -> None:
    """Check a ``DualDatasetSampler`` config before anything is built.

    mmengine does not tell the sampler the batch size, so a ``batch_size``
    other than ``videos_per_gpu + images_per_gpu`` would silently mix the
    streams in the wrong ratio; zero counts would train on nothing.

    Raises:
        ValueError: naming the config keys and what to set.
    """
    loader = cfg.get('train_dataloader', None) or {}
    sampler = loader.get('sampler', None) or {}
    if sampler.get('type') != 'DualDatasetSampler':
        return
    counts = {key: sampler.get(key, default)
              for key, default in (('videos_per_gpu', 8), ('images_per_gpu', 64))}
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f'train_dataloader.sampler.{key}={value!r}: must be an integer '
                             '>= 0 (samples of that stream per GPU and iteration)')
    total = sum(counts.values())
    if total == 0:
        raise ValueError('train_dataloader.sampler.videos_per_gpu=0 and images_per_gpu=0: '
                         'no sample would be loaded. Set at least one > 0 (the recipe: 8 '
                         'and 64; videos_per_gpu=0 trains the image stream only).')
    if loader.get('batch_size') != total:
        raise ValueError(f'train_dataloader.batch_size={loader.get("batch_size")} must equal '
                         f'videos_per_gpu + images_per_gpu = {counts["videos_per_gpu"]} + '
                         f'{counts["images_per_gpu"]} = {total} for DualDatasetSampler; set '
                         f'train_dataloader.batch_size={total}.')


#: Top-level config keys that mmengine's Runner (or tools/train.py) reads itself.
RUNNER_KEYS = frozenset((
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'model_wrapper_cfg',
    'find_unused_parameters', 'runner_type', 'compile', 'strategy', 'custom_imports',
    'cfg', 'dist_cfg', 'gpu_ids'))


def _leaves(node: Any, prefix: str = '') -> Iterator[Tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f'{prefix}.{key}' if prefix else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _leaves(value, f'{prefix}.{i}')
    else:
        yield prefix, node


def _reread_with(filename: str, name: str, value: Any) -> Optional[Config]:
    """The config file read again with its top-level ``name = ...`` assigned
    ``value`` (a copy in a temporary folder, ``_base_`` paths made absolute),
    or None when the file does not assign ``name`` itself."""
    import ast
    import tempfile
    with open(filename, encoding='utf-8') as f:
        source = f.read()
    tree = ast.parse(source)
    edits, found = [], False  # (value node, its new source)
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        target = node.targets[0].id
        if target == name and not found:
            edits.append((node.value, repr(value)))
            found = True
        elif target == '_base_':
            bases = ast.literal_eval(node.value)
            folder = osp.dirname(osp.abspath(filename))

            def absolute(path):
                return path if '::' in path or osp.isabs(path) else osp.join(folder, path)

            bases = ([absolute(b) for b in bases] if isinstance(bases, (list, tuple))
                     else absolute(bases))
            edits.append((node.value, repr(bases)))
    if not found:
        return None
    data = source.encode('utf-8')
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    spans = sorted(((starts[n.lineno - 1] + n.col_offset,
                     starts[n.end_lineno - 1] + n.end_col_offset, text) for n, text in edits),
                   reverse=True)
    for begin, stop, text in spans:
        data = data[:begin] + text.encode('utf-8') + data[stop:]
    with tempfile.TemporaryDirectory() as tmp:
        copy = osp.join(tmp, osp.basename(filename))
        with open(copy, 'wb') as f:
            f.write(data)
        return Config.fromfile(copy)


def check_cfg_options(cfg: Config, options: Dict[str, Any]) -> None:
    """Refuse ``--cfg-options`` that set a named value of the config file.

    Top-level names such as ``videos_per_gpu``, ``num_frames`` or
    ``video_ann_file`` are used while the file is read; what was computed
    from them (the sampler, the pipelines, the datasets) keeps the old value,
    so overriding the name alone would silently change nothing. The keys
    computed from the name are found by reading the file again with the new
    value and comparing the keys the Runner reads.

    Args:
        cfg: The config as loaded, before the options are merged.
        options: The parsed ``--cfg-options``.

    Raises:
        ValueError: naming the keys computed from the name with the values they
            would take (``--cfg-options`` that work).
    """
    for key in options:
        if '.' in key or key in RUNNER_KEYS or key not in cfg or isinstance(cfg[key], dict):
            continue
        changed = None
        if cfg.filename and osp.isfile(cfg.filename):
            try:
                new = _reread_with(cfg.filename, key, options[key])
            except Exception:  # noqa: BLE001 - e.g. a lazy-import config: name by value
                new = None
            if new is not None:
                old_leaves = dict(_leaves(Config.fromfile(cfg.filename).to_dict()))
                new_leaves = dict(_leaves(new.to_dict()))
                changed = [(path, new_leaves.get(path)) for path in new_leaves.keys()
                           | old_leaves.keys()
                           if path.split('.')[0] in RUNNER_KEYS
                           and new_leaves.get(path) != old_leaves.get(path)]
                if not changed:
                    continue  # the Runner would see no difference
        if changed:
            where = ('the keys computed from it instead: --cfg-options '
                     + ' '.join(f'{path}={value!r}' for path, value in sorted(changed)))
        else:  # the name comes from a base file: name the keys that hold its value
            old = cfg[key]
            leaves = [path for path, value in _leaves({k: v for k, v in cfg.items() if k != key})
                      if path.split('.')[0] in RUNNER_KEYS
                      and (value == old if not isinstance(old, str) or not old
                           else isinstance(value, str) and old in value)
                      and type(value) is type(old)]
            where = (f'the keys holding its value {old!r} instead: {", ".join(leaves)}'
                     if leaves else f'the keys computed from it instead (no key holds its value '
                     f'{old!r})')
        raise ValueError(
            f'--cfg-options {key}=...: `{key}` is a name of the config file, used while the '
            'file is read; what was computed from it keeps the old value, so this would change '
            f'nothing. Set {where}; or edit the name in a copy of the config.')


def check_load_from(cfg: Config) -> None:
    """Fail early, saying how to start from scratch, when ``load_from`` names a
    local file that does not exist (e.g. the image-stream init of a joint
    recipe that was not trained yet).

    Raises:
        FileNotFoundError: naming the file and ``--cfg-options load_from=None``.
    """
    load_from = cfg.get('load_from', None)
    if (not isinstance(load_from, str) or not load_from or '://' in load_from
            or ':' in load_from.split('/')[0] or osp.isfile(osp.expanduser(load_from))):
        return
    raise FileNotFoundError(
        f'load_from={load_from!r}: no such file. It is the checkpoint this run starts from '
        '(for the joint recipes, the image-stream pretraining converted by '
        'tools/convert/bevt_image_to_joint.py). Train or convert it first, pass another one '
        'with --cfg-options load_from=PATH, or start from scratch with '
        '--cfg-options load_from=None.')


def _swin_out_channels(backbone: Dict[str, Any]) -> Optional[int]:
    """Channels of a Swin-type backbone's last stage from its ``arch``, or None."""
    from mmaction.registry import MODELS
    cls = MODELS.get(backbone.get('type', '')) if isinstance(backbone.get('type'), str) else None
    arch = backbone.get('arch', None)
    if isinstance(arch, str):
        arch = getattr(cls, 'arch_zoo', {}).get(arch.lower(), None)
    if not isinstance(arch, dict) or 'embed_dims' not in arch or 'depths' not in arch:
        return None
    return int(arch['embed_dims']) * 2 ** (len(arch['depths']) - 1)


def derive_head_in_channels(cfg: Config, options: Optional[Dict[str, Any]] = None) -> None:
    """Make the head's ``in_channels`` match a Swin backbone's ``arch``, in place.

    ``model.backbone.arch=tiny`` on a Swin-B recipe would otherwise fail in
    the first forward pass with a raw shape error. The head follows the
    backbone (with a warning) unless ``in_channels`` was set in ``options``
    too, in which case a mismatch is an error naming both keys.

    Raises:
        ValueError: if ``--cfg-options`` set both to values that disagree.
    """
    model = cfg.get('model', None)
    if not isinstance(model, dict) or not isinstance(model.get('backbone'), dict):
        return
    channels = _swin_out_channels(model.backbone)
    if channels is None:
        return
    options = options or {}
    for head_key in ('cls_head', 'head'):
        head = model.get(head_key, None)
        if not isinstance(head, dict) or head.get('in_channels', channels) == channels:
            continue
        key = f'model.{head_key}.in_channels'
        if key in options:
            raise ValueError(f'{key}={head.in_channels} but model.backbone.arch='
                             f'{model.backbone.arch!r} outputs {channels} channels (8 x '
                             f'embed_dims); set {key}={channels} or leave it out.')
        warnings.warn(f'{key}={head.in_channels} does not match model.backbone.arch='
                      f'{model.backbone.arch!r} ({channels} channels): using {channels}.')
        head.in_channels = channels


def default_work_dir(cfg: Config, config_path: str, work_dir: str = None) -> None:
    """Set ``cfg.work_dir``: CLI value > value in the file > ``work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def drop_timeout_without_workers(cfg: Config) -> None:
    """Set ``timeout=0`` on dataloaders that load in the main process.

    The recipe configs bound a decoder call that hangs on one file with
    ``train_dataloader.timeout`` (seconds per batch, docs/reliability.md); PyTorch
    accepts a timeout only with worker processes (``num_workers=0`` with a timeout
    fails at the first batch with "_SingleProcessDataLoaderIter requires
    timeout == 0"), so overriding ``num_workers=0`` also drops the timeout, with a
    warning: in the main process a hanging call cannot be bounded.
    """
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key, None)
        if loader and loader.get('num_workers', 0) == 0 and loader.get('timeout', 0):
            warnings.warn(f'{key}.timeout={loader.timeout} needs num_workers > 0; set to 0 '
                          '(a decoder call that hangs is not bounded without workers)')
            loader.timeout = 0


def _is_training_checkpoint(path: str) -> bool:
    """Whether ``path`` holds a training state to resume (``meta`` with the
    epoch and iteration, and an optimizer state), not only weights."""
    from bevt_mm.utils.safe_load import load_checkpoint_file
    checkpoint = load_checkpoint_file(path)
    meta = checkpoint.get('meta', None) if isinstance(checkpoint, dict) else None
    return (isinstance(meta, dict) and 'iter' in meta and 'epoch' in meta
            and 'optimizer' in checkpoint)


def resolve_start(cfg: Config, resume: Optional[str] = None) -> str:
    """Decide what a run starts from; set ``cfg.resume`` and ``cfg.load_from``.

    mmengine's Runner takes ``resume=True`` with ``load_from=None`` as "the
    latest checkpoint of the work dir, or nothing": a requeued job that always
    passes ``--resume`` (MMAction2's CLI sets ``load_from=None`` for it) starts
    its first attempt from random init although the config sets ``load_from``
    (an initialization such as the joint recipe's image-stream weights). And
    ``resume=True`` with ``load_from`` set resumes from ``load_from`` even when
    the work dir holds later checkpoints. Resolved here instead:

    * ``--resume PATH``: resume from ``PATH`` (it must exist);
    * ``--resume`` (``'auto'``) or ``resume=True`` in the config: the latest
      checkpoint of ``cfg.work_dir`` (:func:`~bevt_mm.engine.hooks.resume.latest_checkpoint`:
      the file ``last_checkpoint`` names, found in the work dir even after it
      moved); with none yet, the config's ``load_from`` is loaded as weights
      (the run starts as a fresh run would). ``resume=True`` with a
      ``load_from`` that is itself a training checkpoint (``meta`` and
      optimizer state) and an empty work dir resumes from ``load_from``
      (mmengine's meaning);
    * no resume: ``load_from`` (weights only) if set.

    Args:
        cfg (Config): The config (``work_dir`` set), updated in place.
        resume (str, optional): ``tools/train.py --resume``: None (not given:
            the config's ``resume`` decides), ``'auto'`` or a path.

    Returns:
        str: One line naming the file the run starts from and why, for the log.

    A missing ``load_from`` file is left to :func:`check_load_from`
    (``tools/train.py`` calls it when the run does not resume).

    Raises:
        FileNotFoundError: ``--resume PATH`` names a missing file, or
            ``last_checkpoint`` names one that is found nowhere.
    """
    from .hooks.resume import latest_checkpoint, named_checkpoint
    init = cfg.get('load_from', None)
    wanted = resume if resume is not None else ('auto' if cfg.get('resume', False) else None)
    if wanted not in (None, 'auto'):
        if not osp.isfile(osp.expanduser(wanted)):
            raise FileNotFoundError(f'--resume {wanted}: no such checkpoint file')
        cfg.resume, cfg.load_from = True, wanted
        return f'Start: resuming from {wanted} (--resume {wanted})'
    if wanted == 'auto':
        latest = latest_checkpoint(cfg.work_dir)
        if latest:
            # mmengine resumes (and logs) the file last_checkpoint names; another one by path
            cfg.resume = True
            cfg.load_from = None if latest == named_checkpoint(cfg.work_dir) else latest
            return (f'Start: resuming from {latest} (the latest checkpoint of work_dir '
                    f'{cfg.work_dir})')
        if init and resume is None and osp.isfile(init) and _is_training_checkpoint(init):
            cfg.resume = True
            return (f'Start: resuming from load_from={init} (resume=True in the config; '
                    f'work_dir {cfg.work_dir} has no checkpoint yet)')
        cfg.resume = False
        if not init:
            return (f'Start: from the model\'s initialization (resume asked for, but work_dir '
                    f'{cfg.work_dir} has no checkpoint yet and load_from is not set)')
    cfg.resume = False
    if not init:
        return 'Start: from the model\'s initialization (load_from is not set)'
    reason = (f'resume asked for, but work_dir {cfg.work_dir} has no checkpoint yet'
              if wanted == 'auto' else 'no resume')
    return f'Start: loading the weights of load_from={init} ({reason})'


def merge_train_args(cfg: Config, args: Namespace) -> Config:
    """Apply ``tools/train.py`` arguments to a config (MMAction2 semantics).

    Args:
        cfg: The loaded config.
        args: Parsed arguments of ``tools/train.py``.

    Returns:
        Config: The same config, updated.
    """
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    cfg.launcher = args.launcher
    default_work_dir(cfg, args.config, args.work_dir)

    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper or AmpOptimWrapper, '
                             f'the config has {wrapper!r}; set it in the config instead.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True

    randomness = dict(cfg.get('randomness', None) or {})
    randomness.setdefault('seed', None)
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness

    if args.cfg_options is not None:
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    derive_head_in_channels(cfg, args.cfg_options)
    print_log(resolve_start(cfg, args.resume), logger='current')
    adapt_to_device(cfg)
    drop_timeout_without_workers(cfg)
    check_dual_sampler(cfg)
    from ..datasets.config_utils import set_num_classes_from_head
    set_num_classes_from_head(cfg)  # lists checked against the head when they are read
    return cfg


def merge_test_args(cfg: Config, args: Namespace) -> Config:
    """Apply ``tools/test.py`` arguments to a config (MMAction2 semantics).

    Args:
        cfg: The loaded config.
        args: Parsed arguments of ``tools/test.py``.

    Returns:
        Config: The same config, updated.
    """
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump {args.dump}: the dump file must end in .pkl or .pickle')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict) and 'metrics' in evaluators:  # an Evaluator config
            metrics = evaluators['metrics']
            metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
            cfg.test_evaluator = dict(evaluators, metrics=metrics + [dump_metric])
        else:
            evaluators = (list(evaluators) if isinstance(evaluators, (list, tuple))
                          else [evaluators])
            cfg.test_evaluator = evaluators + [dump_metric]
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    derive_head_in_channels(cfg, args.cfg_options)
    default_work_dir(cfg, args.config, args.work_dir)
    cfg.load_from = args.checkpoint
    adapt_to_device(cfg)
    drop_timeout_without_workers(cfg)
    from ..datasets.config_utils import set_num_classes_from_head
    set_num_classes_from_head(cfg)  # lists checked against the head when they are read
    return cfg
