#!/usr/bin/env python
"""Picture of BEVT's tube mask (a clip) and block mask (an image), and of the
frames rebuilt from predicted tokens.

One video and one image (the first entry of each dataset's ann_file, or
--video / --image) go through the pipelines of CONFIG's train_dataloader with
a fixed seed, so the masks are the ones the config's transforms draw. The PNG
shows the clip's frames, the same frames with the masked token cells tinted
and outlined, then the image and its block mask.

With --checkpoint (a BEVT checkpoint of tools/train.py with CONFIG) it also
prints the masked-token accuracy of this sample per stream and, when the
tokenizer can decode ids (our VQVAETokenizer can; DALL-E and VQ-KD cannot)
and rebuilds the sample's own tokenizer input at --min-psnr (18 dB) or better,
adds two rows: the tokenizer's reconstruction of its own ids, and the frames
rebuilt from the model's predicted ids at masked positions (tokenizer ids at
visible ones). The decoder comes from the tokenizer file
(model.target_generator.checkpoint); the BEVT checkpoint holds the tokenizer's
encoder and codebook but not its decoder, so without the file the picture
has the mask rows and the accuracy only.

Example::

    python tools/analysis/visualize_masks.py configs/toy/toy_joint_swin.py \
        --checkpoint work_dirs/toy/pretrain/epoch_4.pth --out work_dirs/toy/masks.png
    # a run with --cfg-options (own data): its checkpoint holds the config it used
    python tools/analysis/visualize_masks.py --checkpoint work_dirs/own/pretrain/epoch_2.pth \
        --out work_dirs/own/masks.png

One video and one image go through the pipelines of a BEVT pretraining
config (``train_dataloader.dataset``: the dataset whose pipeline has a
``TubeMaskGenerator`` and the one with a ``BlockMaskGenerator``), with a fixed
seed, so the masks are drawn by the config's own transforms. The picture
shows, per stream:

* the model input (the uint8 frames after crop/flip, before normalization);
* the same frames with the masked token cells tinted and outlined (each cell
  of the ``(Hg, Wg)`` token grid covers ``H / Hg x W / Wg`` input pixels; a
  video frame ``t`` shows ``target_mask[t]``, the tube mask repeated over the
  temporal patch);

and, given a BEVT checkpoint and a tokenizer with ``decode`` (our
:class:`~bevt_mm.models.tokenizers.VQVAETokenizer` with its decoder):

* the tokenizer's reconstruction of its own ids (the training targets);
* the frames rebuilt from the model's predicted ids at masked positions and
  the tokenizer's ids at visible ones (masked cells outlined).
"""
import argparse
import copy
import inspect
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger

from bevt_mm.analysis.config import load_config
from bevt_mm.utils.stack_warnings import ignore_stack_noise, quiet_stack_logs

#: mask generator type -> stream it marks
MASK_GENERATORS = {'TubeMaskGenerator': 'video', 'BlockMaskGenerator': 'image'}
#: ``data_prefix`` key of each stream's dataset
PREFIX_KEYS = {'video': 'video', 'image': 'img'}
MASK_COLOR = (230, 0, 140)  # tint of masked cells
#: token rows only from a tokenizer whose decodes show the frame (PSNR of its own reconstruction)
MIN_PSNR = 18.0
BORDER_COLOR = (255, 255, 0)  # outline of masked cells
BACKGROUND = (255, 255, 255)
TEXT_COLOR = (0, 0, 0)


# ---------------------------------------------------------------- drawing
def cell_bounds(size: int, cells: int) -> List[Tuple[int, int]]:
    """Pixel ranges ``[start, stop)`` of ``cells`` equal cells along ``size`` pixels."""
    return [(i * size // cells, (i + 1) * size // cells) for i in range(cells)]


def overlay_mask(img: np.ndarray, mask: np.ndarray, color: Sequence[int] = MASK_COLOR,
                 alpha: float = 0.5, border: Optional[Sequence[int]] = BORDER_COLOR
                 ) -> np.ndarray:
    """Tint and outline the masked cells of an image; visible cells stay as they are.

    Args:
        img (np.ndarray): uint8 ``(H, W, 3)``.
        mask (np.ndarray): bool ``(Hg, Wg)``, True = masked; cell ``(i, j)``
            covers rows ``i * H // Hg`` to ``(i + 1) * H // Hg`` (columns alike).
        color (Sequence[int]): RGB tint.
        alpha (float): weight of the tint (0: outline only).
        border (Sequence[int], optional): RGB of a 1-pixel outline drawn inside
            each masked cell (None: no outline).

    Returns:
        np.ndarray: a new uint8 ``(H, W, 3)`` image.
    """
    mask = np.asarray(mask, dtype=bool)
    if img.ndim != 3 or img.shape[2] != 3 or mask.ndim != 2:
        raise ValueError(f'expected an (H, W, 3) image and an (Hg, Wg) mask, got '
                         f'{img.shape} and {mask.shape}')
    out = img.copy()
    tint = np.asarray(color, dtype=np.float32)
    rows, cols = cell_bounds(img.shape[0], mask.shape[0]), cell_bounds(img.shape[1], mask.shape[1])
    for i, j in zip(*np.nonzero(mask)):
        (y0, y1), (x0, x1) = rows[i], cols[j]
        if alpha > 0:
            cell = out[y0:y1, x0:x1].astype(np.float32)
            out[y0:y1, x0:x1] = np.round((1 - alpha) * cell + alpha * tint).astype(np.uint8)
        if border is not None:
            out[y0, x0:x1] = border
            out[y1 - 1, x0:x1] = border
            out[y0:y1, x0] = border
            out[y0:y1, x1 - 1] = border
    return out


def resize_nearest(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a uint8 ``(h, w, 3)`` image (exact for integer factors)."""
    if img.shape[:2] == (height, width):
        return img
    rows = (np.arange(height) * img.shape[0]) // height
    cols = (np.arange(width) * img.shape[1]) // width
    return img[rows][:, cols]


def _font(size: int = 11):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def compose_rows(rows: Sequence[dict], gap: int = 4, title_height: int = 16,
                 caption_height: int = 14) -> np.ndarray:
    """Stack titled rows of equal-size panels into one RGB picture.

    Args:
        rows (Sequence[dict]): each ``dict(title=str | None, panels=[uint8
            (h, w, 3), ...], captions=[str, ...] | None)``; all panels of all
            rows have the same size.
        gap (int): pixels around and between panels.
        title_height (int): height of a row's title strip.
        caption_height (int): height of the strip of per-panel captions.

    Returns:
        np.ndarray: uint8 ``(H, W, 3)``: ``W = gap + n * (w + gap)`` for the
        widest row of ``n`` panels; ``H = gap + sum over rows of (title +
        captions + h + gap)``.
    """
    from PIL import Image, ImageDraw
    if not rows:
        raise ValueError('nothing to draw')
    h, w = rows[0]['panels'][0].shape[:2]
    for row in rows:
        for p in row['panels']:
            if p.shape != (h, w, 3) or p.dtype != np.uint8:
                raise ValueError(f'panels must all be uint8 ({h}, {w}, 3), got {p.shape} '
                                 f'{p.dtype} in row {row.get("title")!r}')
    width = gap + max(len(r['panels']) for r in rows) * (w + gap)
    heights = [(title_height if r.get('title') else 0)
               + (caption_height if r.get('captions') else 0) + h + gap for r in rows]
    canvas = Image.new('RGB', (width, gap + sum(heights)), BACKGROUND)
    draw, font = ImageDraw.Draw(canvas), _font()
    y = gap
    for row, row_height in zip(rows, heights):
        top = y
        if row.get('title'):
            draw.text((gap, y + 2), row['title'], fill=TEXT_COLOR, font=font)
            y += title_height
        if row.get('captions'):
            for k, caption in enumerate(row['captions']):
                draw.text((gap + k * (w + gap), y + 1), caption, fill=TEXT_COLOR, font=font)
            y += caption_height
        for k, panel in enumerate(row['panels']):
            canvas.paste(Image.fromarray(panel), (gap + k * (w + gap), y))
        y = top + row_height
    return np.asarray(canvas)


# ---------------------------------------------------------------- data
def stream_datasets(cfg: Config) -> Dict[str, Tuple[str, dict]]:
    """The video and image datasets of ``train_dataloader.dataset``.

    A dataset belongs to the stream of the mask generator in its pipeline
    (``TubeMaskGenerator``: video, ``BlockMaskGenerator``: image); wrappers
    (``ConcatDataset``, ``RepeatDataset``, ...) are searched through.

    Returns:
        dict: stream -> (config key of the dataset, its config dict); at
        least one stream.

    Raises:
        ValueError: no dataset with a BEVT mask generator.
    """
    loader = cfg.get('train_dataloader')
    if not loader or not isinstance(loader.get('dataset'), dict):
        raise ValueError('the config has no train_dataloader.dataset; a BEVT pretraining '
                         'config is expected (e.g. configs/toy/toy_joint_swin.py)')
    found: Dict[str, Tuple[str, dict]] = {}

    def visit(ds: dict, key: str) -> None:
        if 'pipeline' in ds:
            names = [str(t.get('type', '')).split('.')[-1] for t in ds['pipeline']
                     if isinstance(t, dict)]
            for name, stream in MASK_GENERATORS.items():
                if name in names and stream not in found:
                    found[stream] = (key, ds)
        if isinstance(ds.get('dataset'), dict):
            visit(ds['dataset'], f'{key}.dataset')
        for i, sub in enumerate(ds.get('datasets') or []):
            visit(sub, f'{key}.datasets.{i}')

    visit(loader['dataset'], 'train_dataloader.dataset')
    if not found:
        raise ValueError('no dataset under train_dataloader.dataset has a TubeMaskGenerator or '
                         'BlockMaskGenerator in its pipeline; a BEVT pretraining config is '
                         'expected (e.g. configs/toy/toy_joint_swin.py)')
    return dict(sorted(found.items(), key=lambda kv: kv[0] != 'video'))  # video first


def load_sample(ds_cfg: dict, key: str, stream: str, path: Optional[str] = None,
                seed: int = 0) -> dict:
    """Run one sample through a dataset's pipeline with the RNGs seeded.

    Args:
        ds_cfg (dict): the dataset config (``RobustVideoDataset``,
            ``ImageListDataset``, ...).
        key (str): its config key (for messages).
        stream (str): ``'video'`` or ``'image'``.
        path (str, optional): a media file to use instead of the first entry of
            the dataset's ``ann_file``.
        seed (int): seeds ``random``, numpy and torch before the pipeline.

    Returns:
        dict: ``PackBEVTInputs``' output (``inputs``, ``data_samples``) plus
        ``path``.
    """
    from mmengine.runner import set_random_seed

    from mmaction.registry import DATASETS
    ds_cfg = copy.deepcopy(dict(ds_cfg))
    with tempfile.TemporaryDirectory() as tmp:
        if path is not None:
            if not osp.isfile(path):
                raise FileNotFoundError(f'--{stream} {path}: no such file')
            ann = osp.join(tmp, 'one.txt')
            with open(ann, 'w') as f:
                f.write(osp.abspath(path) + '\n')
            ds_cfg.update(ann_file=ann, data_prefix={PREFIX_KEYS[stream]: ''}, delimiter='\t')
        else:
            ann = ds_cfg.get('ann_file')
            if ann and not osp.isfile(ann):
                raise FileNotFoundError(
                    f'{key}.ann_file = {ann!r}: no such file (pass --{stream} PATH, or set it '
                    f'with --cfg-options {key}.ann_file=...)')
        dataset = DATASETS.build(ds_cfg)
        if len(dataset) == 0:
            raise ValueError(f'{key}: the dataset is empty ({ds_cfg.get("ann_file")})')
        info = dataset.get_data_info(0)
        source = str(info.get('filename', info.get('img_path', '')))
        set_random_seed(seed)
        try:
            packed = dataset.pipeline(info)
        except Exception as err:  # noqa: BLE001 - re-raised with the file named
            raise RuntimeError(f'the {stream} pipeline of {key} failed on {source}: '
                               f'{type(err).__name__}: {err}') from err
    if not isinstance(packed, dict) or 'data_samples' not in packed:
        raise ValueError(f'the {stream} pipeline of {key} must end with PackBEVTInputs '
                         f'(it returned {type(packed).__name__})')
    sample = packed['data_samples']
    for field in ('mask', 'target_mask'):
        if field not in sample:
            raise ValueError(f'{key}: the packed {stream} sample has no {field}')
    packed['path'] = source
    return packed


def frames_of(packed: dict) -> np.ndarray:
    """uint8 frames ``(T, H, W, 3)`` of a packed sample (``T = 1`` for an image)."""
    x = packed['inputs'].numpy()
    return x.transpose(1, 2, 3, 0) if x.ndim == 4 else x.transpose(1, 2, 0)[None]


def target_masks_of(packed: dict) -> np.ndarray:
    """bool ``(T, Hg, Wg)`` target mask of a packed sample (``T = 1`` for an image)."""
    m = packed['data_samples'].target_mask.numpy().astype(bool)
    return m if m.ndim == 3 else m[None]


# ---------------------------------------------------------------- model
def can_decode(tokenizer: torch.nn.Module) -> bool:
    """Whether ``tokenizer`` turns ids back into pixels (has ``decode`` and its decoder)."""
    return callable(getattr(tokenizer, 'decode', None)) and getattr(
        tokenizer, 'with_decoder', True)


def _checkpoint_state(path: str) -> Dict[str, torch.Tensor]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'--checkpoint {path}: no such file (a checkpoint written by '
                                'tools/train.py with this config, e.g. work_dirs/.../epoch_4.pth)')
    from bevt_mm.utils.safe_load import UntrustedCheckpointError, load_checkpoint_file
    try:
        raw = load_checkpoint_file(path)
    except UntrustedCheckpointError:
        raise
    except Exception as err:  # noqa: BLE001
        raise ValueError(f'--checkpoint {path}: cannot be read ({type(err).__name__}: '
                         f'{err})') from err
    from bevt_mm.models.tokenizers.base import extract_state_dict
    try:
        return extract_state_dict(raw, prefixes=('module.', ))
    except TypeError:
        raise ValueError(f'--checkpoint {path}: no state dict (expected a checkpoint of '
                         "tools/train.py, {'state_dict': ...})") from None


def build_model(cfg: Config, checkpoint: str, notes: List[str]) -> torch.nn.Module:
    """Build ``cfg.model`` (a ``BEVT``) and load a BEVT checkpoint.

    The tokenizer is built with its decoder where its type has one
    (``with_decoder=True``) and its weights file has it. Without the file
    (``model.target_generator.checkpoint`` missing), the tokenizer's encoder
    and codebook come from the BEVT checkpoint, which holds them, and there is
    no decoder. What was done is appended to ``notes``.

    Returns:
        torch.nn.Module: the model, in eval mode, on CPU.
    """
    from mmaction.registry import MODELS

    from bevt_mm.models.tokenizers.base import TokenizerCheckpointError
    state = _checkpoint_state(checkpoint)
    model_cfg = cfg.get('model')
    if not model_cfg or not isinstance(model_cfg.get('target_generator'), dict):
        raise ValueError('the config has no model.target_generator (a BEVT pretraining config '
                         'is expected)')
    model_cfg = copy.deepcopy(model_cfg.to_dict() if hasattr(model_cfg, 'to_dict')
                              else dict(model_cfg))
    tok_cfg = dict(model_cfg['target_generator'])
    tok_cls = MODELS.get(tok_cfg['type'])
    if tok_cls is None:
        raise ValueError(f'model.target_generator.type={tok_cfg["type"]!r} is not registered')
    params = inspect.signature(tok_cls.__init__).parameters
    tok_file = tok_cfg.get('checkpoint')
    in_ckpt = {k[len('target_generator.'):]: v for k, v in state.items()
               if k.startswith('target_generator.')}
    if tok_file and osp.isfile(osp.expanduser(str(tok_file))):
        tokenizer = None
        if 'with_decoder' in params and callable(getattr(tok_cls, 'decode', None)):
            try:
                tokenizer = MODELS.build(dict(tok_cfg, with_decoder=True))
            except TokenizerCheckpointError as err:  # e.g. a file without decoder.* keys
                notes.append(f'no decoder from the tokenizer file {tok_file} '
                             f'({str(err).splitlines()[0]}); no reconstruction rows')
        if tokenizer is None:
            tokenizer = MODELS.build(tok_cfg)
        own = tokenizer.state_dict()
        differ = [k for k, v in in_ckpt.items()
                  if k in own and (v.shape != own[k].shape or not torch.equal(v, own[k]))]
        if differ:
            notes.append(f'the tokenizer weights in {checkpoint} differ from {tok_file} '
                         f'(e.g. {differ[0]}); the checkpoint\'s are used, the decoder is the '
                         "file's")
    else:
        if not in_ckpt:
            raise FileNotFoundError(
                f'model.target_generator.checkpoint = {tok_file!r}: no such file, and '
                f'{checkpoint} holds no target_generator.* weights; set it with --cfg-options '
                'model.target_generator.checkpoint=PATH')
        if 'random_init' not in params:
            raise FileNotFoundError(f'model.target_generator.checkpoint = {tok_file!r}: no '
                                    'such file')
        tok_cfg = dict(tok_cfg, checkpoint=None, random_init=True)
        if 'with_decoder' in params:
            tok_cfg['with_decoder'] = False
        tokenizer = MODELS.build(tok_cfg)
        where = (f'tokenizer file {tok_file!r} not found' if tok_file else
                 'model.target_generator.checkpoint is not set')
        note = f'{where}: the tokenizer weights come from {checkpoint}'
        if callable(getattr(tokenizer, 'decode', None)):
            note += (', which has no decoder; no reconstruction rows (set '
                     'model.target_generator.checkpoint to the tokenizer file for them)')
        notes.append(note)
    model_cfg['target_generator'] = tokenizer
    model = MODELS.build(model_cfg)
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.startswith('target_generator.')]
    unexpected = [k for k in state if k not in own and not k.startswith('target_generator.')]
    wrong = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
             for k, v in state.items() if k in own and v.shape != own[k].shape]
    if missing or unexpected or wrong:
        raise ValueError(f'--checkpoint {checkpoint} does not fit the model of the config: '
                         f'missing {missing[:3]} ({len(missing)}), unexpected {unexpected[:3]} '
                         f'({len(unexpected)}), wrong shapes {wrong[:3]}')
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    return model.eval()


def rebuild_ids(true_ids: torch.Tensor, logits: torch.Tensor,
                target_mask: torch.Tensor) -> torch.Tensor:
    """Token ids with the model's predictions at masked positions.

    Args:
        true_ids (Tensor): the tokenizer's ids, ``(..., h, w)``.
        logits (Tensor): the model's logits ``(..., h, w, vocab)``.
        target_mask (Tensor): bool, same shape as ``true_ids`` (True = masked).

    Returns:
        Tensor: ``argmax(logits)`` where masked, ``true_ids`` elsewhere.
    """
    return torch.where(target_mask.bool(), logits.argmax(-1), true_ids)


@torch.no_grad()
def predict(model: torch.nn.Module, samples: Dict[str, dict]) -> Dict[str, dict]:
    """Tokenizer ids, predicted ids and (if possible) decoded frames per stream.

    Args:
        model (nn.Module): a ``BEVT``.
        samples (dict): stream -> packed sample (:func:`load_sample`).

    Returns:
        dict: stream -> ``dict(true_ids, rebuilt_ids`` (``(T, h, w)``, T = 1
        for images)``, accuracy`` (% of masked positions whose argmax is the
        tokenizer's id; None when nothing is masked)``, num_masked,
        true_frames, rebuilt_frames`` (uint8 ``(T, h*f, w*f, 3)``, or None
        without a decoder)``, psnr`` (dB of ``true_frames`` against the
        tokenizer's input, with a decoder)``)``.
    """
    data = dict(inputs=[s['inputs'] for s in samples.values()],
                data_samples=[s['data_samples'] for s in samples.values()])
    streams = model.data_preprocessor(data, False)['inputs']
    present = {k: v for k, v in streams.items() if v is not None}
    logits = model(streams, mode='tensor')
    true = model.tokenize(present['image']['tokenizer_inputs'] if 'image' in present else None,
                          present['video']['tokenizer_inputs'] if 'video' in present else None)
    tokenizer = model.target_generator
    decode = can_decode(tokenizer)
    out = {}
    for name, stream in present.items():
        model.check_mask_grid(name, stream, true[name])
        tm = stream['target_mask'][0].bool()
        ids, lg = true[name][0], logits[name][0]
        rebuilt = rebuild_ids(ids, lg, tm)
        hit = lg.argmax(-1)[tm] == ids[tm]
        res = dict(true_ids=ids.reshape(-1, *ids.shape[-2:]),
                   rebuilt_ids=rebuilt.reshape(-1, *ids.shape[-2:]),
                   num_masked=int(tm.sum()), num_correct=int(hit.sum()),
                   accuracy=float(hit.float().mean() * 100) if hit.numel() else None,
                   true_frames=None, rebuilt_frames=None, psnr=None)
        if decode:
            for key in ('true', 'rebuilt'):
                pix = tokenizer.decode(res[f'{key}_ids'])  # uint8 (T, 3, H, W)
                res[f'{key}_frames'] = pix.permute(0, 2, 3, 1).cpu().numpy()
                if key == 'true':  # how well the tokenizer itself rebuilds its input
                    view = present[name]['tokenizer_inputs'][0].float()  # (3, [T,] h, w)
                    view = view.transpose(0, 1) if view.dim() == 4 else view[None]
                    if view.shape == pix.shape:
                        mse = ((pix.float() - view) / 255.).pow(2).mean().item()
                        res['psnr'] = 10 * np.log10(1 / max(mse, 1e-12))
        out[name] = res
    return out


# ---------------------------------------------------------------- picture
def _ranges(indices: Sequence[int]) -> str:
    """``[2, 3, 4, 7]`` -> ``'2-4, 7'``."""
    parts, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            parts.append(str(start) if start == i else f'{start}-{i}')
            start = None
    return ', '.join(parts) or 'none'


def picture_rows(samples: Dict[str, dict], predictions: Optional[Dict[str, dict]] = None,
                 scale: int = 1) -> List[dict]:
    """The rows of the picture (see :func:`compose_rows`).

    Args:
        samples (dict): stream -> packed sample.
        predictions (dict, optional): stream -> :func:`predict` result.
        scale (int): integer display magnification of the input size.

    Returns:
        list[dict]: video rows (one panel per frame), then one image row.
    """
    rows = []
    for name, packed in samples.items():
        frames, masks = frames_of(packed), target_masks_of(packed)
        size = (frames.shape[1] * scale, frames.shape[2] * scale)
        show = [resize_nearest(f, *size) for f in frames]
        masked = [overlay_mask(f, m) for f, m in zip(show, masks)]
        grid = masks.shape[-2:]
        cell = f'{frames.shape[1] // grid[0]}x{frames.shape[2] // grid[1]} px'
        pred = (predictions or {}).get(name)
        rec = reb = None
        if pred is not None and pred['true_frames'] is not None:
            rec = [resize_nearest(f, *size) for f in pred['true_frames']]
            reb = [overlay_mask(resize_nearest(f, *size), m, alpha=0.0)
                   for f, m in zip(pred['rebuilt_frames'], masks)]
        acc = ''
        if pred is not None and pred['accuracy'] is not None:
            acc = (f'; {pred["num_correct"]}/{pred["num_masked"]} masked tokens right '
                   f'({pred["accuracy"]:.1f}%)')
        if name == 'video':
            meta = packed['data_samples'].metainfo
            inds = meta.get('frame_inds')
            captions = [f't={t}' for t in range(len(frames))]
            if inds is not None:  # the frame numbers in the video
                captions = [f'{c} (frame {int(i)})'
                            for c, i in zip(captions, np.asarray(inds).ravel())]
            on = [t for t in range(len(masks)) if masks[t].any()]
            per_frame = int(masks[on[0]].sum()) if on else 0
            rows.append(dict(title=f'clip {osp.basename(packed["path"])}: model input '
                             f'{frames.shape[1]}x{frames.shape[2]}, {len(frames)} frames',
                             panels=show, captions=captions))
            rows.append(dict(title=f'tube mask: {per_frame} of {grid[0] * grid[1]} cells '
                             f'({cell} each) masked at t={_ranges(on)}', panels=masked))
            if rec is not None:
                psnr = f'; PSNR {pred["psnr"]:.1f} dB' if pred['psnr'] is not None else ''
                rows.append(dict(title=f'tokenizer reconstruction (true ids{psnr})',
                                 panels=rec))
                rows.append(dict(title=f'rebuilt from predicted tokens (outlined){acc}',
                                 panels=reb))
            elif acc:
                rows[-1]['title'] += acc
        else:
            panels, captions = [show[0], masked[0]], ['image', 'block mask']
            if rec is not None:
                panels += [rec[0], reb[0]]
                captions += ['tokenizer (true ids)', 'predicted tokens']
            rows.append(dict(title=f'image {osp.basename(packed["path"])}: block mask, '
                             f'{int(masks[0].sum())} of {grid[0] * grid[1]} cells ({cell} '
                             f'each){acc}', panels=panels, captions=captions))
    return rows


def run_config(checkpoint: str) -> Config:
    """The config a checkpoint of ``tools/train.py`` was trained with: the text
    mmengine stores in its ``meta.cfg`` (``--cfg-options`` included), else the
    config that the Runner dumped into the checkpoint's work dir.

    Raises:
        FileNotFoundError: neither is there.
    """
    from bevt_mm.utils.safe_load import load_checkpoint_file
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'--checkpoint {checkpoint}: no such file')
    meta = load_checkpoint_file(checkpoint).get('meta') or {}
    if isinstance(meta.get('cfg'), str):
        return Config.fromstring(meta['cfg'], '.py')
    folder = osp.dirname(osp.abspath(checkpoint))
    dumped = sorted(f for f in os.listdir(folder) if f.endswith('.py'))
    if len(dumped) == 1:
        return Config.fromfile(osp.join(folder, dumped[0]))
    raise FileNotFoundError(
        f'--checkpoint {checkpoint}: no config stored in it and {len(dumped)} .py files beside '
        'it; give the config the run used (the one tools/train.py dumped into its work dir)')


def visualize_masks(config: Optional[Union[str, Config]], out: str,
                    checkpoint: Optional[str] = None,
                    video: Optional[str] = None, image: Optional[str] = None,
                    seed: Optional[int] = None, cfg_options: Optional[dict] = None,
                    scale: Optional[int] = None, min_psnr: float = MIN_PSNR) -> Dict:
    """Write the mask picture of a BEVT pretraining config (see the module docstring).

    Args:
        config (str | Config, optional): the pretraining config (path or
            loaded); None: the one ``checkpoint`` was trained with
            (:func:`run_config`), ``--cfg-options`` of that run included.
        out (str): PNG to write.
        checkpoint (str, optional): a BEVT checkpoint of tools/train.py; adds
            the token rows (when the tokenizer decodes) and the accuracy.
        video (str, optional): video file instead of the first of the list.
        image (str, optional): image file instead of the first of the list.
        seed (int, optional): RNG seed before each pipeline (default: the
            config's ``randomness.seed``, else 0).
        cfg_options (dict, optional): overrides merged into the config.
        scale (int, optional): display magnification (default: inputs shown at
            >= 128 px).
        min_psnr (float): draw the token rows only when the tokenizer rebuilds
            the sample's tokenizer input at least this well (dB); below, its
            decodes show blurs rather than frames and a note says so.

    Returns:
        dict: ``out``, ``size`` (width, height), ``seed``, ``rows`` (titles),
        ``notes``, and per stream ``path``, ``num_masked``, ``accuracy``.
    """
    import bevt_mm  # noqa: F401  (registers the BEVT types)
    from mmengine.registry import init_default_scope
    from PIL import Image

    if config is None:
        if checkpoint is None:
            raise ValueError('give a config, or a --checkpoint whose run config is used')
        cfg = run_config(checkpoint)
    else:
        cfg = load_config(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    if seed is None:
        seed = int((cfg.get('randomness') or {}).get('seed') or 0)
    notes: List[str] = []
    datasets = stream_datasets(cfg)
    overrides = dict(video=video, image=image)
    for name, path in overrides.items():
        if path is not None and name not in datasets:
            raise ValueError(f'--{name} given but the config has no {name} dataset '
                             f'(no {[k for k, v in MASK_GENERATORS.items() if v == name][0]})')
    samples = {name: load_sample(ds, key, name, overrides[name], seed)
               for name, (key, ds) in datasets.items()}

    predictions = None
    if checkpoint is not None:
        model = build_model(cfg, checkpoint, notes)
        if not callable(getattr(model.target_generator, 'decode', None)):
            notes.append(f'{type(model.target_generator).__name__} cannot decode ids into '
                         'pixels (no decode()); the token rows are left out')
        predictions = predict(model, samples)
        worst = min((p['psnr'] for p in predictions.values() if p['psnr'] is not None),
                    default=None)
        if worst is not None and worst < min_psnr:
            notes.append(f'the tokenizer rebuilds its own input at {worst:.1f} dB PSNR (below '
                         f'--min-psnr {min_psnr:g}): its frames would not show the input, so '
                         'the token rows are left out (train the tokenizer longer, or '
                         '--min-psnr 0 to draw them)')
            for pred in predictions.values():
                pred['true_frames'] = pred['rebuilt_frames'] = None
    else:
        notes.append('no --checkpoint: mask rows only')

    height = max(frames_of(s).shape[1] for s in samples.values())
    scale = scale or max(1, -(-128 // height))
    rows = picture_rows(samples, predictions, scale)
    picture = compose_rows(rows)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    Image.fromarray(picture).save(out)
    result = dict(out=out, size=(picture.shape[1], picture.shape[0]), seed=seed,
                  rows=[r.get('title') for r in rows], notes=notes, streams={})
    for name, packed in samples.items():
        entry = dict(path=packed['path'],
                     num_masked=int(target_masks_of(packed).sum()), accuracy=None)
        if predictions is not None:
            entry['accuracy'] = predictions[name]['accuracy']
            entry['num_correct'] = predictions[name]['num_correct']
        result['streams'][name] = entry
    return result


__all__ = ['cell_bounds', 'overlay_mask', 'resize_nearest', 'compose_rows', 'stream_datasets',
           'load_sample', 'frames_of', 'target_masks_of', 'can_decode', 'build_model',
           'run_config', 'rebuild_ids', 'predict', 'picture_rows', 'visualize_masks']


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Draw the tube/block masks of a BEVT pretraining config (and, with a '
        'checkpoint, the frames rebuilt from predicted tokens) into a PNG')
    p.add_argument('config', nargs='?', default=None,
                   help='BEVT pretraining config, e.g. configs/toy/toy_joint_swin.py (default: '
                   'the config --checkpoint was trained with, its --cfg-options included)')
    p.add_argument('--checkpoint', default=None,
                   help='BEVT checkpoint (tools/train.py with this config): adds the '
                   'masked-token accuracy and, if the tokenizer decodes, the token rows')
    p.add_argument('--video', default=None,
                   help='video file (default: the first entry of the video ann_file)')
    p.add_argument('--image', default=None,
                   help='image file (default: the first entry of the image ann_file)')
    p.add_argument('--out', default=None,
                   help='PNG to write (default: work_dirs/masks/<config name>.png)')
    p.add_argument('--seed', type=int, default=None,
                   help="seed before each pipeline (default: the config's randomness.seed)")
    p.add_argument('--scale', type=int, default=None,
                   help='display magnification (default: frames shown at >= 128 px)')
    p.add_argument('--min-psnr', type=float, default=MIN_PSNR,
                   help='draw the token rows only if the tokenizer rebuilds the sample at this '
                   f'PSNR or better (dB, default {MIN_PSNR:g}; 0: always)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value pairs (e.g. '
                   'model.target_generator.checkpoint=PATH, '
                   'train_dataloader.dataset.datasets.0.ann_file=PATH)')
    return p.parse_args(argv)


def main(argv=None):
    ignore_stack_noise()
    quiet_stack_logs(MMLogger.get_current_instance())  # the pipelines log through it
    args = parse_args(argv)
    if args.config is None and args.checkpoint is None:
        sys.exit('error: give a CONFIG, or a --checkpoint (its run config is used)')
    name = args.config or osp.basename(osp.dirname(osp.abspath(args.checkpoint)))
    out = args.out or osp.join('work_dirs', 'masks', osp.splitext(osp.basename(name))[0] + '.png')
    result = visualize_masks(args.config, out, checkpoint=args.checkpoint, video=args.video,
                             image=args.image, seed=args.seed, cfg_options=args.cfg_options,
                             scale=args.scale, min_psnr=args.min_psnr)
    for name, s in result['streams'].items():
        line = f'{name}: {s["path"]} ({s["num_masked"]} masked token positions)'
        if s.get('accuracy') is not None:
            line += (f'; masked-token accuracy of this sample {s["accuracy"]:.1f}% '
                     f'({s["num_correct"]}/{s["num_masked"]})')
        print(line)
    for note in result['notes']:
        print(f'note: {note}')
    print(f'wrote {result["out"]} ({result["size"][0]}x{result["size"][1]}, seed '
          f'{result["seed"]})')
    return result


if __name__ == '__main__':
    main()
