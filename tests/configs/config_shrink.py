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


def _shrink_transform(t: Dict[str, Any]) -> Dict[str, Any]:
    t = dict(t)
    kind = t.get('type')
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
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    backbone = cfg.model.backbone
    backbone.arch = dict(TINY_SWIN)
    backbone.pretrained = None
    cfg.model.cls_head.in_channels = TINY_SWIN['embed_dims'] * 8
    if num_classes is not None:
        cfg.model.cls_head.num_classes = num_classes
    _shrink_dataloader(cfg.train_dataloader, videos['train'], videos['root'])
    for key in ('val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            _shrink_dataloader(cfg[key], videos['val'], videos['root'])
            cfg[key]['batch_size'] = 1
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_begin = 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    adapt_to_device(cfg)  # what tools/train.py does on a machine without GPU
    return cfg
