"""Train a small VQ-VAE tokenizer (``VQVAETokenizer``) on an image folder or list.

For users without downloadable tokenizer weights (DALL-E, PeCo, VQ-KD), and
for the project's demo and tests. The model is ``VQVAETokenizer`` in
taming-transformers' VQGAN layout, trained with L1 reconstruction +
codebook/commitment losses and dead-code restarts
(:mod:`bevt_mm.models.tokenizers.vqvae_training`). Unreadable images are
logged and replaced (``ImageListDataset``).

Usage::

    # ImageNet-style folder (class sub-folders or flat), 112x112 crops -> 14x14 tokens
    python tools/train_tokenizer.py data/imagenet/train --out work_dirs/vqvae_small.pth \\
        --preset small --steps 20000 --batch-size 64 --device cuda
    # ImageNet-style list ("path [label]" per line) relative to --data-root
    python tools/train_tokenizer.py data/imagenet/train.txt --data-root data/imagenet/train ...
    # override architecture fields
    python tools/train_tokenizer.py imgs/ --out tok.pth --arch vocab_size=1024 ch=64

The checkpoint holds ``state_dict`` (taming layout, decoder included) and
``meta.tokenizer_cfg`` (the architecture); use it in a BEVT config as::

    tokenizer=dict(type='VQVAETokenizer', checkpoint='work_dirs/vqvae_small.pth')

(the file's architecture and vocabulary replace a config's keys; BEVT sets
the head's ``num_classes`` to the vocabulary). The same ``--seed`` gives the
same run on the same machine and ``--workers``.

It also writes ``<out>.json`` with the held-out reconstruction error
(against the mean-image baseline) and codebook usage. Progress lines (s/step, time left) come
after the first step, every ``--log-every`` steps and at least every
``--log-seconds``; the checkpoint is written (atomically) every
``--save-every`` steps, every ``--save-minutes`` and on Ctrl-C, with
``meta.steps_done`` (and no ``eval``) until training finishes. A BEVT config
needs only ``type`` and ``checkpoint``: the architecture is read from
``meta.tokenizer_cfg``.
"""
import argparse
import json
import logging
import os
import os.path as osp
import sys
import time
from typing import Dict, Iterator, List

import torch
from mmengine.config import DictAction
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from torch.utils.data import DataLoader

import bevt_mm  # noqa: F401  (registers BEVT types)
from bevt_mm.datasets import ImageListDataset
from bevt_mm.models.tokenizers import VQVAETokenizer, evaluate_vqvae, train_vqvae
from bevt_mm.models.tokenizers.vqvae_training import progress

#: Architectures (all downsample 8x: 112 -> 14 tokens; ``tiny`` 4x is for tests).
PRESETS: Dict[str, dict] = {
    'tiny': dict(ch=8, ch_mult=(1, 2), num_res_blocks=1, z_channels=16, embed_dim=8,
                 vocab_size=64, num_groups=4),
    'toy': dict(ch=16, ch_mult=(1, 1, 2, 2), num_res_blocks=1, z_channels=32, embed_dim=16,
                vocab_size=256, num_groups=4),
    'small': dict(ch=32, ch_mult=(1, 2, 2, 4), num_res_blocks=1, z_channels=64, embed_dim=32,
                  vocab_size=1024, num_groups=8),
    'base': dict(ch=128, ch_mult=(1, 1, 2, 4), num_res_blocks=2, z_channels=256, embed_dim=256,
                 vocab_size=8192, num_groups=32),
}


def parse_args(argv: List[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a VQ-VAE tokenizer for BEVT')
    parser.add_argument('images', help='image folder, or an ImageNet-style list file')
    parser.add_argument('--data-root', default='', help='root of the paths in a list file')
    parser.add_argument('--out', required=True, help='output checkpoint (.pth)')
    parser.add_argument('--preset', default='small', choices=sorted(PRESETS))
    parser.add_argument('--arch', nargs='+', action=DictAction, default={},
                        help='override VQVAETokenizer arguments, e.g. vocab_size=1024')
    parser.add_argument('--size', type=int, default=112, help='training crop size')
    parser.add_argument('--steps', type=int, default=2000)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--restart-every', type=int, default=100,
                        help='dead-code restart period in steps (0: never)')
    parser.add_argument('--val-images', type=int, default=256,
                        help='held-out images (the last ones of the list) for evaluation')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds initialization, sampling and augmentation: the same seed '
                        'gives the same run on the same machine and --workers')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic CUDA kernels (same seed, same run on a GPU too)')
    parser.add_argument('--log-every', type=int, default=100, help='steps between progress lines')
    parser.add_argument('--log-seconds', type=float, default=30,
                        help='longest time without a progress line (default 30)')
    parser.add_argument('--save-every', type=int, default=500,
                        help='steps between checkpoints written during training (0: never)')
    parser.add_argument('--save-minutes', type=float, default=10,
                        help='longest time without a checkpoint written (default 10; 0: never)')
    return parser.parse_args(argv)


def _dataset(args: argparse.Namespace, train: bool) -> ImageListDataset:
    if train:
        pipeline = [dict(type='LoadImageAsClip'),
                    dict(type='RandomResizedCrop', area_range=(0.35, 1.0)),
                    dict(type='Resize', scale=(args.size, args.size), keep_ratio=False,
                         interpolation='bicubic'),
                    dict(type='Flip', flip_ratio=0.5)]
    else:
        pipeline = [dict(type='LoadImageAsClip'),
                    dict(type='Resize', scale=(-1, args.size), interpolation='bicubic'),
                    dict(type='CenterCrop', crop_size=args.size)]
    if osp.isdir(args.images):
        return ImageListDataset(ann_file='', data_prefix=dict(img=args.images), pipeline=pipeline,
                                with_label=False)
    return ImageListDataset(ann_file=args.images, data_prefix=dict(img=args.data_root),
                            pipeline=pipeline, with_label=True)


def _collate(results: List[dict]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(r['imgs'][0]).permute(2, 0, 1) for r in results])


def _endless(loader: DataLoader) -> Iterator[torch.Tensor]:
    while True:
        yield from loader


def _save(path: str, tok: VQVAETokenizer, meta: dict) -> None:
    """Write the checkpoint atomically (a stopped run leaves the last one whole)."""
    state = {k: v.detach().cpu() for k, v in tok.state_dict().items()}
    tmp = f'{path}.tmp'
    torch.save(dict(state_dict=state, meta=meta), tmp)
    os.replace(tmp, path)


def main(argv: List[str] = None) -> dict:
    """Train, evaluate and save; returns the evaluation dict and ``step_losses``."""
    args = parse_args(argv)
    # create the output folder first: a typo must not cost a finished training run
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    init_default_scope('mmaction')  # the pipelines use MMAction2/BEVT transforms
    logger = MMLogger.get_instance('train_tokenizer', log_level=logging.INFO)
    # python, numpy (the augmentations of the main process) and torch; worker processes get
    # seeds from the loader's own generator
    set_random_seed(args.seed, deterministic=args.deterministic)
    cfg = dict(PRESETS[args.preset], resolution=args.size)
    cfg.update(args.arch)
    if 'ch_mult' in cfg:
        cfg['ch_mult'] = tuple(cfg['ch_mult'])
    if args.size % 2**(len(cfg['ch_mult']) - 1):
        sys.exit(f'error: --size {args.size} is not a multiple of the downsampling factor')

    logger.info(f'reading {args.images}')
    train_set, val_set = _dataset(args, True), _dataset(args, False)
    n = len(train_set)
    n_val = min(args.val_images, max(1, n // 5))
    if n - n_val < 1:
        sys.exit(f'error: {n} images are too few to train and hold out {n_val}')
    train_idx = list(range(n - n_val))
    val_idx = list(range(n - n_val, n))
    gen = torch.Generator().manual_seed(args.seed)
    sampler = torch.utils.data.RandomSampler(train_idx, replacement=True,
                                             num_samples=10**9, generator=gen)
    loader = DataLoader(torch.utils.data.Subset(train_set, train_idx), batch_size=args.batch_size,
                        sampler=sampler, num_workers=args.workers, collate_fn=_collate,
                        drop_last=True, persistent_workers=args.workers > 0,
                        generator=torch.Generator().manual_seed(args.seed + 1))
    val = _collate([val_set[i] for i in val_idx])

    device = torch.device(args.device)
    tok = VQVAETokenizer(**cfg, with_decoder=True, random_init=True, frozen=False).to(device)
    logger.info(f'VQVAETokenizer {cfg}: {sum(p.numel() for p in tok.parameters()) / 1e6:.2f}M '
                f'parameters; {len(train_idx)} training / {len(val_idx)} held-out images')
    meta = dict(tokenizer_cfg=cfg, steps=args.steps, images=args.images)
    start = time.monotonic()
    last = dict(log=start, save=start, step=0)

    def on_step(step: int, out: dict) -> None:
        now = time.monotonic()
        last['step'] = step
        if now - last['log'] >= args.log_seconds and step % args.log_every and step != 1:
            logger.info(f'step {step}/{args.steps}: loss_rec {out["loss_rec"].item():.4f} '
                        f'({progress(step, args.steps, start)})')
            last['log'] = now
        elif step == 1 or step % args.log_every == 0:
            last['log'] = now
        if step < args.steps and ((args.save_every and step % args.save_every == 0) or (
                args.save_minutes and now - last['save'] >= 60 * args.save_minutes)):
            _save(args.out, tok, dict(meta, steps_done=step))
            logger.info(f'step {step}: saved {args.out}')
            last['save'] = now

    logger.info(f'training {args.steps} steps on {device} (first progress line after step 1)')
    try:
        trained = train_vqvae(tok, (b.to(device) for b in _endless(loader)), steps=args.steps,
                    lr=args.lr, restart_every=args.restart_every, log=logger.info,
                    log_every=args.log_every, on_step=on_step)
    except KeyboardInterrupt:
        if last['step']:
            _save(args.out, tok, dict(meta, steps_done=last['step']))
            logger.info(f'stopped at step {last["step"]}: saved {args.out} (usable, '
                        'not evaluated)')
        raise SystemExit(130)
    stats = evaluate_vqvae(tok, val.to(device))
    stats['train_seconds'] = time.monotonic() - start
    stats['failed_images'] = train_set.num_failed
    logger.info('held-out: reconstruction MSE {mse:.5f} vs mean image {mean_image_mse:.5f}, '
                'PSNR {psnr:.2f} dB, codebook usage {codes_used:.0f} codes ({codebook_usage:.1%}), '
                'perplexity {perplexity:.1f}'.format(**stats))
    _save(args.out, tok, dict(meta, eval=stats, steps_done=args.steps))
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(dict(tokenizer_cfg=cfg, eval=stats), f, indent=2)
    logger.info(f'saved {args.out}; use it as tokenizer=dict(type=\'VQVAETokenizer\', '
                f'checkpoint=\'{args.out}\') (architecture {cfg} read from the file); '
                f'head num_classes = vocab_size = {cfg["vocab_size"]}')
    return dict(stats, step_losses=trained['step_losses'])


if __name__ == '__main__':
    main()
