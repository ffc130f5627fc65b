"""Size-only overrides that let paper-size configs run one step on CPU.

The configs in ``configs/`` are the paper's recipes (224x224, 16-32 frames,
Swin-B). :func:`shrink_config` changes only sizes: architecture width/depth,
frames, resolution, batch, number of iterations and workers, and points the
data at small generated files. Everything else (optimizer, schedule,
transforms, model structure, hooks) stays as written, so a test that runs the
shrunk config exercises the config itself.
"""
import copy
from typing import Any, Dict, Optional

from mmengine.config import Config

from bevt_mm.engine.launch import adapt_to_device

TINY_SWIN = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2])
RES = 64  # spatial size of inputs (224 in the recipes)
SHORT_SIDE = 72  # short side before cropping (256 in the recipes)
FRAMES = 4  # frames per clip (16-32 in the recipes)


GRID = RES // 16  # token grid (14 in the recipes)
TOKEN_VIEW = GRID * 8  # tokenizer view for a factor-8 tokenizer (112 in the recipes)
VOCAB = 32  # codebook of the tiny tokenizer (8192 in the recipes)


def tiny_tokenizer_cfg(checkpoint: str) -> Dict[str, Any]:
    """A tiny VQVAETokenizer (factor 8) whose weights are in ``checkpoint``."""
    return dict(type='VQVAETokenizer', checkpoint=checkpoint, ch=8, ch_mult=(1, 1, 2, 4),
                num_res_blocks=1, z_channels=8, embed_dim=8, vocab_size=VOCAB, num_groups=4,
                resolution=TOKEN_VIEW)


def _unformatted_copy(cfg: Config) -> Config:
    """A deep copy of ``cfg`` whose text is not reformatted with yapf.

    A Runner writes ``cfg.pretty_text`` to its log, its work dir and every
    checkpoint's meta; with mmengine's default ``format_python_code=True`` each
    of these runs yapf over the whole config (about a second on a 2-core CPU).
    The text stays valid Python with the same content, only not line-wrapped.
    """
    return Config(copy.deepcopy(cfg.to_dict()), cfg_text=cfg.text, filename=cfg.filename,
                  format_python_code=False)


def _shrink_transform(t: Dict[str, Any]) -> Dict[str, Any]:
    t = dict(t)
    kind = t.get('type')
    if kind == 'TokenizerView':
        t['size'] = TOKEN_VIEW
    if kind in ('BlockMaskGenerator', 'TubeMaskGenerator'):
        t.update(input_size=GRID, num_masking_patches=GRID * GRID // 2, min_num_patches=2)
    if kind == 'TubeMaskGenerator':
        t['num_frames'] = FRAMES
    if kind == 'CheckVideoLength':
        t['min_frames'] = FRAMES
    if kind == 'RandomCrop':
        t['size'] = RES
    if 'clip_len' in t:
        t['clip_len'] = FRAMES
    if 'frame_interval' in t:
        t['frame_interval'] = 1
    if kind in ('CenterCrop', 'ThreeCrop', 'TenCrop', 'RandomCrop') and 'crop_size' in t:
        t['crop_size'] = RES
    if kind == 'Resize':
        scale = tuple(t['scale'])
        if scale[0] == -1:
            t['scale'] = (-1, SHORT_SIDE if scale[1] > 224 else RES)
        else:
            t['scale'] = (RES, RES)
    if kind == 'RandomRescale':
        t['scale_range'] = (SHORT_SIDE, SHORT_SIDE + 8)
    return t


def _shrink_dataloader(loader: Dict[str, Any], ann_file: str, data_root: str) -> None:
    loader['batch_size'] = 2
    loader['num_workers'] = 0
    loader['persistent_workers'] = False
    loader['timeout'] = 0
    ds = loader['dataset']
    ds['ann_file'] = ann_file
    ds['data_prefix'] = dict(video=data_root)
    ds['pipeline'] = [_shrink_transform(t) for t in ds['pipeline']]


def shrink_recognizer_config(cfg: Config, videos: Dict[str, str], work_dir: str,
                             num_classes: Optional[int] = None) -> Config:
    """Shrink an MMAction2 recognizer (fine-tuning) config.

    Args:
        cfg: The loaded config (not modified).
        videos: ``dict(train=list, val=list, root=folder)`` of generated videos.
        work_dir: Where the runner writes.
        num_classes: Keep the config's classes when None.

    Returns:
        Config: A new, shrunk config.
    """
    cfg = _unformatted_copy(cfg)
    cfg.work_dir = work_dir
    backbone = cfg.model.backbone
    backbone.arch = dict(TINY_SWIN)
    backbone.pretrained = None
    cfg.model.cls_head.in_channels = TINY_SWIN['embed_dims'] * 8
    _shrink_dataloader(cfg.train_dataloader, videos['train'], videos['root'])
    for key in ('val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            _shrink_dataloader(cfg[key], videos['val'], videos['root'])
            cfg[key]['batch_size'] = 1
    if num_classes is not None:  # the head and the datasets, as the config's num_classes does
        cfg.num_classes = cfg.model.cls_head.num_classes = num_classes
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(key) and 'num_classes' in cfg[key]['dataset']:
                cfg[key]['dataset']['num_classes'] = num_classes
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_begin = 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    adapt_to_device(cfg)  # what tools/train.py does on a machine without GPU
    return cfg


def _shrink_dataset(ds: Dict[str, Any], media: Dict[str, str]) -> None:
    if ds['type'] == 'ConcatDataset':
        for sub in ds['datasets']:
            _shrink_dataset(sub, media)
        return
    if 'Image' in ds['type']:
        ds['ann_file'] = media['image_list']
        ds['data_prefix'] = dict(img=media['image_root'])
    else:
        ds['ann_file'] = media['video_list']
        ds['data_prefix'] = dict(video=media['video_root'])
    ds['pipeline'] = [_shrink_transform(t) for t in ds['pipeline']]


def shrink_bevt_config(cfg: Config, media: Dict[str, str], tokenizer_ckpt: str,
                       work_dir: str) -> Config:
    """Shrink a BEVT pretraining config (sizes, data paths, tokenizer size).

    Args:
        cfg: The loaded config (not modified).
        media: ``video_list``, ``video_root``, ``image_list``, ``image_root``.
        tokenizer_ckpt: Weights of :func:`tiny_tokenizer_cfg`.
        work_dir: Where the runner writes.

    Returns:
        Config: A new, shrunk config.
    """
    cfg = _unformatted_copy(cfg)
    cfg.work_dir = work_dir
    cfg.load_from = None
    model = cfg.model
    if model.backbone.type == 'BEVTSwinTransformer3D':
        model.backbone.arch = dict(TINY_SWIN)
        model.backbone.window_size = (2, 4, 4)
        model.head.in_channels = TINY_SWIN['embed_dims'] * 8
    model.backbone.pretrained = None
    model.target_generator = tiny_tokenizer_cfg(tokenizer_ckpt)
    model.head.num_classes = VOCAB
    loader = cfg.train_dataloader
    loader.num_workers = 0
    loader.persistent_workers = False
    loader.timeout = 0
    loader.pin_memory = False
    sampler = loader.sampler
    if sampler.type == 'DualDatasetSampler':
        sampler.videos_per_gpu = 2
        sampler.images_per_gpu = 2
        loader.batch_size = 4
    else:
        loader.batch_size = 2
    _shrink_dataset(loader.dataset, media)
    for hook in cfg.get('custom_hooks', []):
        if hook.get('type') == 'ProbeHook':  # probe the test videos (train = val), small clips
            hook.update(data_root='', at_start=False, batch_size=2,
                        pipeline=[_shrink_transform(t) for t in hook.get('pipeline') or []]
                        or None)
            hook.pop('sets')  # (ConfigDict.update would merge the old sets in)
            hook['sets'] = dict(toy=dict(data_prefix=media['video_root'],
                                         train=media['video_list'], val=media['video_list']))
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    adapt_to_device(cfg)
    return cfg
