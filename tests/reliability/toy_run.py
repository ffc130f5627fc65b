"""Helpers for the subprocess tests: tiny media, a tiny tokenizer and the shrunk toy config.

The toy joint recipe (``configs/toy/toy_joint_swin.py``) is shrunk with
``tests/configs/config_shrink.py`` (sizes only), switched to iteration
checkpoints and deterministic mode, dumped to a file and run with
``tools/train.py`` / ``tools/dist_train.sh`` in a subprocess.
"""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PYTHON = osp.join(ROOT, '.venv', 'bin', 'python')
if not osp.exists(PYTHON):
    PYTHON = sys.executable
sys.path.insert(0, osp.join(ROOT, 'tests', 'configs'))

from config_shrink import shrink_bevt_config, tiny_tokenizer_cfg  # noqa: E402


def make_media(root: str, num_videos: int = 4, num_images: int = 4) -> Dict[str, str]:
    """Toy videos (16 frames, 64x64) and JPEG images with their lists."""
    from bevt_mm.testing.toy_data import make_image_set, make_video_set
    vids = make_video_set(root, 'spatial', num_train=num_videos, num_val=0, seed=0, size=64,
                          num_frames=16)
    imgs = make_image_set(root, num_train=num_images, num_val=0, seed=0, size=80,
                          photo_fraction=0.0)
    return dict(video_list=vids['train'], video_root=osp.join(root, 'spatial'),
                image_list=imgs['train'], image_root=osp.join(root, 'images'))


def make_tokenizer(path: str) -> str:
    """Weights of the tiny VQVAETokenizer of ``config_shrink``."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = tiny_tokenizer_cfg(checkpoint=None)
    cfg.pop('checkpoint')
    torch.manual_seed(0)
    tokenizer = MODELS.build(dict(cfg, random_init=True))
    torch.save({'state_dict': tokenizer.state_dict()}, path)
    return path


def toy_config(media: Dict[str, str], tokenizer: str, work_dir: str, out: str,
               max_iters: int = 6, videos: int = 2, images: int = 2,
               loop: str = 'ResumableIterBasedTrainLoop', ckpt_interval: int = 1):
    """Dump the shrunk toy joint config, iteration-based, deterministic, to ``out``."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'toy', 'toy_joint_swin.py'))
    cfg = shrink_bevt_config(cfg, media, tokenizer, work_dir)
    cfg.train_dataloader.sampler.videos_per_gpu = videos
    cfg.train_dataloader.sampler.images_per_gpu = images
    cfg.train_dataloader.batch_size = videos + images
    cfg.train_cfg = dict(type=loop, max_iters=max_iters)
    warm = 2 if max_iters > 3 else 1
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=warm),
        dict(type='CosineAnnealingLR', T_max=max_iters - warm, eta_min=0, by_epoch=False,
             begin=warm, end=max_iters)]
    cfg.default_hooks.checkpoint.update(by_epoch=False, interval=ckpt_interval,
                                        max_keep_ckpts=-1)
    cfg.default_hooks.logger.update(interval=1)
    cfg.log_processor = dict(type='LogProcessor', window_size=1, by_epoch=False)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork'),
                       dist_cfg=dict(backend='gloo'))
    cfg.dump(out)
    return cfg


def train_cmd(config: str, *args: str) -> List[str]:
    return [PYTHON, osp.join(ROOT, 'tools', 'train.py'), config, *args]


def env(threads: int = 1) -> Dict[str, str]:
    e = dict(os.environ)
    e['PYTHONPATH'] = ROOT + os.pathsep + e.get('PYTHONPATH', '')
    e['OMP_NUM_THREADS'] = str(threads)
    e['MKL_NUM_THREADS'] = str(threads)
    e['PYTHON'] = PYTHON
    return e


def run(cmd: List[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=ROOT, env=kw.pop('env', env()), capture_output=True,
                          text=True, timeout=timeout, **kw)
    if proc.returncode != 0:
        raise AssertionError(f'{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-6000:]}')
    return proc


def scalars(work_dir: str, stamps: Optional[List[str]] = None) -> List[dict]:
    """Every line of every ``vis_data/scalars.json`` under ``work_dir`` (run order)."""
    rows = []
    for stamp in sorted(os.listdir(work_dir)) if stamps is None else stamps:
        path = osp.join(work_dir, stamp, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            with open(path) as f:
                rows += [json.loads(line) for line in f if line.strip()]
    return rows


def losses_by_iter(work_dir: str, stamps: Optional[List[str]] = None
                   ) -> Dict[int, Dict[str, float]]:
    """``{iter: {loss, loss_image, loss_video, lr}}``; a later run overrides an earlier one."""
    out = {}
    for row in scalars(work_dir, stamps):
        if 'loss' in row:
            out[int(row['iter'])] = {k: row[k] for k in row
                                     if k.startswith('loss') or k == 'lr'}
    return out


def last_checkpoint(work_dir: str) -> Optional[str]:
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return f.read().strip()
