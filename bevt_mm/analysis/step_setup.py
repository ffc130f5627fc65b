"""A BEVT pretraining config at benchmark sizes: checks, a packed batch, the model.

* :func:`check_pretrain_config`, :func:`check_swin_backbone`: is it a BEVT
  pretraining config with a Swin backbone (one-line :class:`NotPretrainConfigError`);
* :func:`pipeline_sizes`: its clip length, crop size and tokenizer view, from the
  config's own training pipelines, so the defaults run every pretraining config
  as shipped (the toy configs' 64-pixel crops included);
* :func:`prepare_config`, :func:`adapt_transform`, :func:`make_batch`,
  :func:`build_model_and_optim`: the config at other sizes, a packed batch with
  the config's masks, the model and its optimizer wrapper.
"""
import copy
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config


PRETRAIN_EXAMPLES = ('configs/bevt/joint_swin_b.py', 'configs/toy/toy_joint_swin.py')


class NotPretrainConfigError(ValueError):
    """The config is not a BEVT pretraining config (no ``model.target_generator``)."""


def check_pretrain_config(cfg: Config, path: str) -> None:
    """Raise :class:`NotPretrainConfigError` (one line) unless ``cfg`` pretrains BEVT.

    A BEVT pretraining model has a ``target_generator`` (the tokenizer);
    fine-tuning configs (``Recognizer3D``) do not.

    Args:
        cfg (Config): The loaded config.
        path (str): Its file, for the message.
    """
    model = cfg.get('model', {}) or {}
    if 'target_generator' not in model:
        raise NotPretrainConfigError(
            f'{path} is not a BEVT pretraining config (model type {model.get("type")!r} has '
            'no model.target_generator); the benchmark times BEVT pretraining steps: pass a '
            f'pretraining config such as {" or ".join(PRETRAIN_EXAMPLES)}')


def check_swin_backbone(cfg: Config, path: str) -> None:
    """Raise :class:`NotPretrainConfigError` (one line) unless the backbone is a Swin.

    The step's FLOP formula, ``--arch`` and the window-attention comparison
    are Swin's; a TimeSformer config is refused by name instead of failing
    halfway.

    Args:
        cfg (Config): The loaded config.
        path (str): Its file, for the message.
    """
    import bevt_mm  # noqa: F401  (registers the BEVT backbones)
    from mmaction.models.backbones.swin import SwinTransformer3D
    from mmaction.registry import MODELS
    kind = cfg.model.backbone.get('type')
    cls = MODELS.get(kind) if kind else None
    if cls is None or not issubclass(cls, SwinTransformer3D):
        raise NotPretrainConfigError(
            f'{path}: model.backbone.type={kind!r}; the benchmark times Swin-backbone BEVT '
            'configs only (its FLOP formula, --arch and window-attention check are Swin\'s): '
            f'pass a Swin config such as {" or ".join(PRETRAIN_EXAMPLES)}')


def pipeline_sizes(cfg: Config) -> Dict[str, int]:
    """The clip length, crop size and tokenizer view size of the training pipelines.

    Args:
        cfg (Config): A BEVT pretraining config.

    Returns:
        dict: ``frames`` (``SampleFrames.clip_len`` or ``TubeMaskGenerator.num_frames``),
        ``crop`` (``RandomCrop``/``CenterCrop`` size), ``view``
        (``TokenizerView`` size); config variables ``num_frames``, ``crop_size``,
        ``tokenizer_view_size`` and then the recipe's 16, 224, 112 where the
        pipelines do not say.
    """
    found: Dict[str, int] = {}
    for ds in train_datasets(cfg):
        for t in ds.get('pipeline', []):
            kind = t.get('type')
            if kind == 'SampleFrames':
                found.setdefault('frames', int(t['clip_len']))
            elif kind == 'TubeMaskGenerator' and t.get('num_frames'):
                found.setdefault('frames', int(t['num_frames']))
            elif kind in ('RandomCrop', 'CenterCrop'):
                size = t.get('size', t.get('crop_size'))
                found.setdefault('crop', int(size if isinstance(size, int) else size[0]))
            elif kind == 'TokenizerView':
                size = t['size']
                found.setdefault('view', int(size if isinstance(size, int) else size[0]))
    return dict(frames=found.get('frames', cfg.get('num_frames', 16)),
                crop=found.get('crop', cfg.get('crop_size', 224)),
                view=found.get('view', cfg.get('tokenizer_view_size', 112)))


def prepare_config(config: str, cfg_options: Optional[Dict] = None, arch: Optional[str] = None,
                   frames: Optional[int] = None, size: Optional[int] = None,
                   with_cp: Optional[bool] = None) -> Config:
    """Load the config and apply the benchmark's overrides.

    ``frames``/``size`` set the clip length and crop size in the model's view
    of the data (the pipelines are adapted in :func:`data_pipelines`); the
    tokenizer is randomly initialized when its checkpoint file is missing
    (recorded in ``cfg.benchmark_notes``).

    Args:
        config (str): A BEVT pretraining config file (Swin backbone).
        cfg_options (dict, optional): Overrides merged into it first.
        arch (str | dict, optional): Swin ``arch`` to use instead.
        frames (int, optional): Clip length. Defaults to the pipelines'.
        size (int, optional): Crop size. Defaults to the pipelines'.
        with_cp (bool, optional): The backbone's activation checkpointing.
            Defaults to the config's.

    Returns:
        Config: The config, with ``benchmark_frames``, ``benchmark_size``,
        ``benchmark_base_size``, ``benchmark_view`` and ``benchmark_notes``.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_pretrain_config(cfg, config)
    notes = []
    model = cfg.model
    if arch is not None:
        model.backbone.arch = arch
        model.head.in_channels = arch_dims(arch) * 8
    if with_cp is not None:
        model.backbone.with_cp = with_cp
    tok = model.target_generator
    ckpt = tok.get('checkpoint')
    if ckpt is not None and not osp.isfile(str(ckpt)) or (ckpt is None
                                                          and not tok.get('random_init')):
        notes.append(f'tokenizer checkpoint {ckpt!r} not found: {tok["type"]} randomly '
                     'initialized (same cost)')
        tok['checkpoint'] = None
        tok['random_init'] = True
    model.backbone.pretrained = None
    cfg.load_from = None
    cfg.benchmark_notes = notes
    sizes = pipeline_sizes(cfg)
    cfg.benchmark_frames = frames or sizes['frames']
    cfg.benchmark_size = size or sizes['crop']
    cfg.benchmark_base_size = sizes['crop']  # the crop the pipelines' sizes are made for
    cfg.benchmark_view = sizes['view'] * cfg.benchmark_size // sizes['crop']
    return cfg


def arch_dims(arch) -> int:
    """``embed_dims`` of a Swin ``arch`` (a name of ``arch_zoo`` or a dict).

    Args:
        arch (str | dict): The arch.

    Returns:
        int: Channels of stage 1.
    """
    if isinstance(arch, dict):
        return arch['embed_dims']
    from mmaction.models.backbones.swin import SwinTransformer3D
    return SwinTransformer3D.arch_zoo[arch]['embed_dims']


def mask_cfgs(cfg: Config) -> Dict[str, Dict]:
    """The mask generator configs of the training pipelines.

    Args:
        cfg (Config): A BEVT pretraining config.

    Returns:
        dict: ``video`` (``TubeMaskGenerator``) and/or ``image``
        (``BlockMaskGenerator``) transform configs.
    """
    out = {}
    for ds in train_datasets(cfg):
        for t in ds['pipeline']:
            if t['type'] in ('TubeMaskGenerator', 'BlockMaskGenerator'):
                out['video' if t['type'] == 'TubeMaskGenerator' else 'image'] = dict(t)
    return out


def train_datasets(cfg: Config) -> List[Dict]:
    """The training dataset configs (the members of a concatenated dataset).

    Args:
        cfg (Config): A config with ``train_dataloader.dataset``.

    Returns:
        list[dict]: Dataset configs.
    """
    ds = cfg.train_dataloader.dataset
    return list(ds.datasets) if 'datasets' in ds else [ds]


def adapt_transform(t: Dict, frames: int, size: int, view: int,
                     base_size: int = 224) -> Dict:
    """Sizes of one transform for ``frames`` x ``size`` clips.

    Args:
        t (dict): A transform config.
        frames (int): Clip length.
        size (int): Crop size in pixels.
        view (int): Tokenizer view size in pixels.
        base_size (int): The config's crop; rescale ranges scale by
            ``size / base_size``. Defaults to the recipe's 224.

    Returns:
        dict: A changed copy of ``t``.
    """
    t = copy.deepcopy(dict(t))
    kind = t['type']
    scale = size / float(base_size)
    grid = size // 16
    if kind in ('TubeMaskGenerator', 'BlockMaskGenerator'):
        old = t.get('input_size', 14)
        old = old if isinstance(old, int) else old[0]
        ratio = t.get('num_masking_patches', 98) / float(old ** 2) if old != grid else None
        t['input_size'] = grid
        if ratio is not None:
            t['num_masking_patches'] = max(1, int(round(ratio * grid * grid)))
            t['min_num_patches'] = min(t.get('min_num_patches', 16), t['num_masking_patches'])
        if kind == 'TubeMaskGenerator':
            t['num_frames'] = frames
    elif kind == 'SampleFrames':
        t['clip_len'] = frames
    elif kind == 'CheckVideoLength':
        t['min_frames'] = max(1, min(t.get('min_frames', 1), frames))
    elif kind == 'RandomCrop':
        t['size'] = size
    elif kind == 'RandomRescale':
        lo, hi = t['scale_range']
        t['scale_range'] = (int(round(lo * scale)), int(round(hi * scale)))
    elif kind == 'TokenizerView':
        t['size'] = view
    return t


def make_batch(cfg: Config, batch_videos: int, batch_images: int, frames: int, size: int,
               view: int, seed: int = 0) -> Dict:
    """A packed batch (``pseudo_collate`` form) with the config's mask generators.

    Pixels are random (the model's cost does not depend on them); masks come
    from the config's ``TubeMaskGenerator``/``BlockMaskGenerator`` adapted to
    the clip size, so the number of masked positions is the recipe's.
    NumPy's global random state is restored afterwards.

    Args:
        cfg (Config): From :func:`prepare_config`.
        batch_videos (int): Clips in the batch.
        batch_images (int): Images in the batch.
        frames (int): Clip length.
        size (int): Crop size in pixels.
        view (int): Tokenizer view size in pixels.
        seed (int): Seed of the pixels and masks. Defaults to 0.

    Returns:
        dict: ``inputs`` (uint8 ``(3, T, H, W)`` / ``(3, H, W)`` tensors) and
        ``data_samples`` (``ActionDataSample`` with masks and tokenizer views).
    """
    from mmaction.registry import TRANSFORMS
    from mmaction.structures import ActionDataSample
    rng = np.random.RandomState(seed)
    masks = mask_cfgs(cfg)
    base = cfg.get('benchmark_base_size', 224)
    gens = {k: TRANSFORMS.build(adapt_transform(v, frames, size, view, base))
            for k, v in masks.items()}
    inputs, samples = [], []
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        for modality, n in (('video', batch_videos), ('image', batch_images)):
            for _ in range(n):
                sample = ActionDataSample(metainfo=dict(modality=modality))
                if modality == 'video':
                    x = rng.randint(0, 256, (3, frames, size, size), dtype=np.uint8)
                    tok = rng.randint(0, 256, (3, frames, view, view), dtype=np.uint8)
                    res = gens['video'].transform(dict(imgs=[None] * frames))
                else:
                    x = rng.randint(0, 256, (3, size, size), dtype=np.uint8)
                    tok = rng.randint(0, 256, (3, view, view), dtype=np.uint8)
                    res = gens['image'].transform({})
                sample.mask = torch.from_numpy(np.ascontiguousarray(res['mask']))
                sample.target_mask = torch.from_numpy(np.ascontiguousarray(res['target_mask']))
                sample.tokenizer_inputs = torch.from_numpy(tok)
                inputs.append(torch.from_numpy(x))
                samples.append(sample)
    finally:
        np.random.set_state(state)
    return dict(inputs=inputs, data_samples=samples)


def build_model_and_optim(cfg: Config, device: torch.device, amp: str):
    """The config's BEVT and optimizer wrapper on ``device``.

    CUDA with amp: ``AmpOptimWrapper`` in that dtype (as the recipe); else a
    plain ``OptimWrapper`` with the recipe's optimizer, clipping and param-wise
    settings (``accumulative_counts`` is 1: every timed step updates).

    Args:
        cfg (Config): From :func:`prepare_config`.
        device (torch.device): Where the model goes.
        amp (str): ``'none'``, ``'fp16'`` or ``'bf16'``.

    Returns:
        tuple: The model (train mode) and its ``OptimWrapper``.
    """
    from mmengine.optim import build_optim_wrapper
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device)
    model.train()
    ow_cfg = copy.deepcopy(cfg.optim_wrapper)
    ow_cfg.pop('accumulative_counts', None)
    if device.type == 'cuda' and amp != 'none':
        ow_cfg['type'] = 'AmpOptimWrapper'
        ow_cfg['dtype'] = {'fp16': 'float16', 'bf16': 'bfloat16'}[amp]
        if amp == 'bf16':
            ow_cfg.pop('loss_scale', None)
    else:
        ow_cfg['type'] = 'OptimWrapper'
        ow_cfg.pop('loss_scale', None)
        ow_cfg.pop('dtype', None)
    optim = build_optim_wrapper(model, ow_cfg)
    return model, optim
