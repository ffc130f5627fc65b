"""Toy datasets for demos, tests and the temporal-dependence analysis.

Everything is generated deterministically from a seed: each item draws from
its own ``numpy.random.default_rng([seed, set_id, split_id, index])``, so an
item does not depend on how many other items are made.

Three sets are written under one root (``tools/make_toy_data.py``)::

    <root>/images/{train,val}/*.jpg        images/{train,val}_list.txt   (``path label``)
    <root>/spatial/{train,val}/*.mp4       spatial/{train,val}_list.txt  (``path label``)
    <root>/temporal/{train,val}/*.mp4      temporal/{train,val}_list.txt
    <root>/README.md, <root>/meta.json

List paths are relative to the set folder, so an MMAction2 ``VideoDataset``
uses ``ann_file='<root>/spatial/train_list.txt'`` and
``data_prefix=dict(video='<root>/spatial')``; an mmpretrain
``ImageNet``/``CustomDataset`` list uses ``data_prefix='<root>/images'``.

**toy-spatial** (the Kinetics-like case). The class is what the object is:
its shape (:data:`SHAPES`) and the surface texture that goes with it
(:func:`shape_shade`). The object moves in a random direction at a random speed
and rotates at a random rate; all of that is independent of the class, so one
frame tells the class and frame order carries nothing.

**toy-temporal** (the Something-Something-like case). Every video is built
from one *path*: the same kind of object (random shape, colour, size,
rotation, always bright) sliding horizontally at speed ``v`` on a torus (it
wraps around the frame edges), from a uniformly random start, while the camera
pans with it over a dark, weakly textured tileable background (which moves
too). The
class is *the order in which the path's frames are shown*
(:data:`TEMPORAL_CLASSES`):

* ``right``:       ``f0, f1, ..., f15`` (moves right at ``v``)
* ``left``:        ``f15, ..., f1, f0`` (moves left at ``v``)
* ``right_fast``:  ``f0, f2, ..., f14, f1, f3, ..., f15`` (sweeps right twice at ``2v``)
* ``left_fast``:   the reverse of ``right_fast`` (sweeps left twice at ``2v``)

Why neither one frame nor shuffled frames can tell the class:

* single frame: with a uniform start on the torus, the object's position in
  frame ``t`` is uniform for every ``t`` and every class, and everything else
  (shape, colours, size, background, noise) is drawn the same way for every
  class. So the distribution of any single frame is *identical* across classes.
* shuffled frames: every class shows exactly the same multiset of frames
  ``{f0, ..., f15}`` (a fixed permutation of one path), so a uniformly random
  reordering of a video has *exactly* the same distribution for every class.
  (Four translation directions would not have this property: shuffled frames
  of a horizontal motion still jump horizontally, which tells horizontal from
  vertical, so a shuffle test would sit at 50 %, not 25 %.)

The class is still local in ordered frames: direction and speed of the
motion between consecutive frames (``+v``, ``-v``, ``+2v``, ``-2v``), which a
2x4x4 tubelet embedding sees directly. ``v`` is 5-7 px per frame at 64 px
(2.5-3.5 px at the toy fine-tuning's 32 px, most of a 4 px patch): at half
that speed the toy fine-tuning tells slow from fast but not the direction
(docs/demo.md, "Toy data").

**images** (the image stream). Generated scenes (1-3 shapes on a textured
background; the label is the shape of the largest object) and, optionally,
random crops of the sample photographs that scikit-image ships (label
``len(SHAPES)`` = ``photo``).
"""
import json
import math
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: toy-spatial classes (and the shape vocabulary of every set).
SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'cross')
#: toy-temporal classes: the order in which one path's frames are shown.
TEMPORAL_CLASSES: Tuple[str, ...] = ('right', 'left', 'right_fast', 'left_fast')
#: image classes: the shapes, plus ``photo`` for scikit-image sample crops.
IMAGE_CLASSES: Tuple[str, ...] = SHAPES + ('photo', )
#: scikit-image sample photographs shipped inside the wheel.
PHOTO_NAMES: Tuple[str, ...] = ('astronaut', 'coffee', 'chelsea', 'rocket', 'immunohistochemistry',
                                'hubble_deep_field', 'camera', 'coins', 'moon', 'grass', 'gravel',
                                'brick')

#: bumped when a change to the generator changes its output (``meta.json`` records it).
DATA_VERSION = 3

_SET_IDS = {'images': 0, 'spatial': 1, 'temporal': 2}
_SPLIT_IDS = {'train': 0, 'val': 1}


def item_rng(seed: int, set_name: str, split: str, index: int) -> np.random.Generator:
    """The random generator of one item (independent of the other items)."""
    return np.random.default_rng([seed, _SET_IDS[set_name], _SPLIT_IDS[split], index])


def temporal_order(cls: int, num_frames: int) -> np.ndarray:
    """The permutation of path frames that a toy-temporal class shows.

    Args:
        cls (int): index into :data:`TEMPORAL_CLASSES`.
        num_frames (int): frames per video.

    Returns:
        np.ndarray: int64 ``(num_frames,)``, a permutation of
        ``range(num_frames)``: entry ``t`` is the path frame shown at time ``t``.
    """
    ident = np.arange(num_frames)
    fast = np.concatenate([ident[0::2], ident[1::2]])
    orders = (ident, ident[::-1], fast, fast[::-1])
    if not 0 <= cls < len(orders):
        raise ValueError(f'temporal class must be in [0, {len(orders)}), got {cls}')
    return orders[cls].copy()


# ----------------------------------------------------------------------------- drawing


def _grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return xs + 0.5, ys + 0.5


def _object_frame(cx: float, cy: float, angle: float, size: int
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``(u, v)`` in the frame of an object at ``(cx, cy)`` turned by
    ``angle``, on a torus of side ``size`` (shapes wrap around the edges)."""
    xs, ys = _grid(size)
    dx = (xs - cx + size / 2) % size - size / 2
    dy = (ys - cy + size / 2) % size - size / 2
    c, s = math.cos(angle), math.sin(angle)
    return c * dx + s * dy, -s * dx + c * dy


def shape_shade(kind: str, cx: float, cy: float, radius: float, angle: float,
                size: int) -> np.ndarray:
    """The surface texture of a shape ``(size, size)`` in [0.45, 1] (multiplies its colour).

    Each shape has its own texture, drawn in the object's frame (it moves and
    turns with the object): circle solid, square stripes, triangle checks,
    cross rings. So "what the object is" shows in both outline and texture.
    """
    u, v = _object_frame(cx, cy, angle, size)
    period = max(0.7 * radius, 4.0)
    wave_u = np.sin(2 * math.pi * u / period)
    if kind == 'circle':
        on = np.ones_like(u, dtype=bool)
    elif kind == 'square':
        on = wave_u > 0
    elif kind == 'triangle':
        on = wave_u * np.sin(2 * math.pi * v / period) > 0
    elif kind == 'cross':
        on = np.sin(2 * math.pi * np.sqrt(u * u + v * v) / period) > 0
    else:
        raise ValueError(f'unknown shape {kind!r}; expected one of {SHAPES}')
    return np.where(on, 1.0, 0.45).astype(np.float32)


def shape_alpha(kind: str, cx: float, cy: float, radius: float, angle: float,
                size: int) -> np.ndarray:
    """Anti-aliased coverage ``(size, size)`` in [0, 1] of a shape on a torus.

    The shape is centred at ``(cx, cy)`` (pixels) and wraps around the edges.
    """
    u, v = _object_frame(cx, cy, angle, size)
    if kind == 'circle':
        d = np.sqrt(u * u + v * v) - radius
    elif kind == 'square':
        d = np.maximum(np.abs(u), np.abs(v)) - 0.8 * radius
    elif kind == 'triangle':
        # equilateral, circumradius ~1.15 r (inradius 0.58 r)
        d = np.full_like(u, -np.inf)
        for k in range(3):
            a = math.pi / 2 + 2 * math.pi * k / 3
            d = np.maximum(d, u * math.cos(a) + v * math.sin(a))
        d = d - 0.58 * radius
    elif kind == 'cross':
        arm = 0.33 * radius
        d = np.minimum(np.maximum(np.abs(u) - radius, np.abs(v) - arm),
                       np.maximum(np.abs(u) - arm, np.abs(v) - radius))
    else:
        raise ValueError(f'unknown shape {kind!r}; expected one of {SHAPES}')
    return np.clip(0.5 - d, 0.0, 1.0).astype(np.float32)


def background(rng: np.random.Generator, size: int,
               dark: Optional[bool] = None) -> Tuple[np.ndarray, float]:
    """A static textured background ``(size, size, 3)`` float32 in [0, 255].

    A two-colour linear gradient in a random direction plus smooth noise.
    ``dark``: force a dark (True) or light (False) background; None draws one.
    Returns the image and its mean luminance.
    """
    draw = rng.random() < 0.5
    dark = draw if dark is None else dark
    lo, hi = (20, 110) if dark else (145, 235)
    c0 = rng.uniform(lo, hi, 3)
    c1 = rng.uniform(lo, hi, 3)
    xs, ys = _grid(size)
    a = rng.uniform(0, 2 * math.pi)
    t = ((xs - size / 2) * math.cos(a) + (ys - size / 2) * math.sin(a)) / size + 0.5
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    # smooth noise: random 8x8 field, bilinear upsampling
    coarse = rng.normal(0, 10, (9, 9, 3)).astype(np.float32)
    g = np.linspace(0, 8, size, dtype=np.float32)
    i0 = np.minimum(g.astype(int), 7)
    f = (g - i0)[:, None]
    rows = coarse[i0] * (1 - f[..., None]) + coarse[i0 + 1] * f[..., None]
    field = rows[:, i0] * (1 - f[None, :, :]) + rows[:, i0 + 1] * f[None, :, :]
    img = img + field
    return img.astype(np.float32), float(img.mean())


def periodic_background(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, float]:
    """A static *tileable* textured background ``(size, size, 3)`` float32.

    Two colours mixed by a periodic pattern plus periodic smooth noise, so the
    image can be translated on a torus without a seam (used by toy-temporal,
    where the camera pans with the object).

    Always dark, with a weak texture, so the (bright, :func:`object_colour`)
    object's edges dominate the motion and their contrast has one sign: a
    tubelet's leading edge always brightens and its trailing edge always
    darkens, which a small video transformer learns in seconds. With both
    polarities and strong texture (noise std 28), a tiny Swin fine-tuned for
    minutes stayed at chance. This holds for every class alike, so single
    frames and frame multisets stay identically distributed across classes.
    """
    rng.random()  # (the light/dark draw of :func:`background`; kept for the stream)
    lo, hi = 20, 110
    c0 = rng.uniform(lo, hi, 3)
    c1 = rng.uniform(lo, hi, 3)
    xs, ys = _grid(size)
    kx, ky = rng.integers(-2, 3, 2)
    phase = rng.uniform(0, 2 * math.pi)
    t = 0.5 + 0.5 * np.sin(2 * math.pi * (kx * xs + ky * ys) / size + phase)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    cells = 8
    coarse = rng.normal(0, 8, (cells, cells, 3)).astype(np.float32)
    g = (np.arange(size, dtype=np.float32) + 0.5) * cells / size
    i0 = np.floor(g).astype(int) % cells
    i1 = (i0 + 1) % cells
    f = (g - np.floor(g))[:, None]
    rows = coarse[i0] * (1 - f[..., None]) + coarse[i1] * f[..., None]
    field = rows[:, i0] * (1 - f[None, :, :]) + rows[:, i1] * f[None, :, :]
    img = img + field
    return img.astype(np.float32), float(img.mean())


def shift_torus(img: np.ndarray, dx: float, dy: float = 0.0) -> np.ndarray:
    """Translate ``img`` (H, W, C) by a subpixel ``(dx, dy)`` on a torus (bilinear)."""
    out = img
    for d, axis in ((dx, 1), (dy, 0)):
        if d == 0:
            continue
        n = math.floor(d)
        f = d - n
        a = np.roll(out, n, axis=axis)
        out = a * (1 - f) + np.roll(out, n + 1, axis=axis) * f if f else a
    return out


def object_colour(rng: np.random.Generator, bg_mean: float) -> np.ndarray:
    """A saturated colour that contrasts with the background."""
    if bg_mean < 128:
        base = rng.uniform(170, 255, 3)
    else:
        base = rng.uniform(0, 85, 3)
    base[rng.integers(3)] = rng.uniform(0, 255)  # some hue variety
    return base.astype(np.float32)


def _compose(bg: np.ndarray, alpha: np.ndarray, colour: np.ndarray, rng: np.random.Generator,
             noise: float) -> np.ndarray:
    """``colour``: (3,) or a per-pixel (H, W, 3) colour map."""
    colour = colour if colour.ndim == 3 else colour[None, None]
    img = bg * (1 - alpha[..., None]) + colour * alpha[..., None]
    if noise > 0:
        img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _object_params(rng: np.random.Generator, size: int, shape: Optional[int] = None) -> Dict:
    return dict(
        shape=int(rng.integers(len(SHAPES))) if shape is None else int(shape),
        radius=float(rng.uniform(0.2, 0.28) * size),
        angle=float(rng.uniform(0, 2 * math.pi)),
        spin=float(rng.uniform(-0.12, 0.12)),
        x=float(rng.uniform(0, size)),
        y=float(rng.uniform(0, size)),
    )


def render_path(rng: np.random.Generator, size: int, num_frames: int, obj: Dict,
                vx: float, vy: float, noise: float = 4.0,
                pan: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Frames of one object moving at constant velocity on a torus.

    With ``pan=True`` the (tileable) background moves with the object, as if
    the camera panned over a scene: every pixel carries the motion.

    Returns:
        tuple: uint8 frames ``(T, size, size, 3)`` and the object centres
        ``(T, 2)`` (x, y; in [0, size)).
    """
    # dark backgrounds: the object (:func:`object_colour`) is then bright, so its
    # texture (a 1 vs 0.45 shade) and its edges show at full contrast
    bg, bg_mean = periodic_background(rng, size) if pan else background(rng, size, dark=True)
    colour = object_colour(rng, bg_mean)
    frames, centres = [], []
    for t in range(num_frames):
        cx = (obj['x'] + vx * t) % size
        cy = (obj['y'] + vy * t) % size
        pose = (SHAPES[obj['shape']], cx, cy, obj['radius'], obj['angle'] + obj['spin'] * t, size)
        alpha = shape_alpha(*pose)
        shaded = colour[None, None] * shape_shade(*pose)[..., None]
        frame_bg = shift_torus(bg, vx * t, vy * t) if pan else bg
        frames.append(_compose(frame_bg, alpha, shaded, rng, noise))
        centres.append((cx, cy))
    return np.stack(frames), np.asarray(centres, dtype=np.float32)


def spatial_video(rng: np.random.Generator, label: int, size: int = 64,
                  num_frames: int = 16) -> Tuple[np.ndarray, Dict]:
    """A toy-spatial video: class = shape, motion random.

    Returns:
        tuple: uint8 ``(T, H, W, 3)`` RGB frames and a dict of metadata
        (``centres`` per frame, velocity, shape).
    """
    obj = _object_params(rng, size, shape=label)
    speed = rng.uniform(0.5, 2.5) * size / 64
    heading = rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(heading), speed * math.sin(heading)
    frames, centres = render_path(rng, size, num_frames, obj, vx, vy)
    return frames, dict(centres=centres, velocity=(vx, vy), shape=obj['shape'])


def temporal_video(rng: np.random.Generator, label: int, size: int = 64,
                   num_frames: int = 16, pan: bool = True) -> Tuple[np.ndarray, Dict]:
    """A toy-temporal video: one horizontal path, shown in the class's order.

    Returns:
        tuple: uint8 ``(T, H, W, 3)`` RGB frames (``path[order]``) and metadata
        (``path_centres``: centres of the path frames; ``order``: the
        permutation; ``centres``: centres of the shown frames).
    """
    obj = _object_params(rng, size)
    speed = rng.uniform(5.0, 7.0) * size / 64
    path, centres = render_path(rng, size, num_frames, obj, speed, 0.0, pan=pan)
    order = temporal_order(label, num_frames)
    return path[order], dict(path_centres=centres, order=order, centres=centres[order],
                             speed=speed, shape=obj['shape'])


def scene_image(rng: np.random.Generator, size: int = 64) -> Tuple[np.ndarray, int]:
    """A generated still scene: 1-3 shapes; label = shape of the largest."""
    bg, bg_mean = background(rng, size)
    img = bg
    objs = [_object_params(rng, size) for _ in range(int(rng.integers(1, 4)))]
    objs.sort(key=lambda o: o['radius'])  # largest drawn last (on top)
    objs[-1]['radius'] = max(objs[-1]['radius'], 0.25 * size)
    for o in objs:
        pose = (SHAPES[o['shape']], o['x'], o['y'], o['radius'], o['angle'], size)
        alpha = shape_alpha(*pose)
        colour = object_colour(rng, bg_mean)[None, None] * shape_shade(*pose)[..., None]
        img = img * (1 - alpha[..., None]) + colour * alpha[..., None]
    img = img + rng.normal(0, 4.0, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), objs[-1]['shape']


_PHOTOS: Dict[str, np.ndarray] = {}


def _photo(name: str) -> np.ndarray:
    if name not in _PHOTOS:
        import skimage.data
        im = np.asarray(getattr(skimage.data, name)())
        if im.ndim == 2:
            im = np.repeat(im[..., None], 3, axis=2)
        _PHOTOS[name] = im[..., :3].astype(np.uint8)
    return _PHOTOS[name]


def available_photos() -> List[str]:
    """Names in :data:`PHOTO_NAMES` that this scikit-image install can load."""
    names = []
    for n in PHOTO_NAMES:
        try:
            _photo(n)
            names.append(n)
        except Exception:  # not shipped / needs a download
            pass
    return names


def photo_crop(rng: np.random.Generator, names: Sequence[str], size: int = 64) -> np.ndarray:
    """A random square crop (25-100 % of the short side) of a sample photo."""
    from PIL import Image
    im = _photo(names[int(rng.integers(len(names)))])
    h, w = im.shape[:2]
    side = int(min(h, w) * rng.uniform(0.25, 1.0))
    y0 = int(rng.integers(0, h - side + 1))
    x0 = int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(im[y0:y0 + side, x0:x0 + side])
    return np.asarray(crop.resize((size, size), Image.BILINEAR))


# ----------------------------------------------------------------------------- writing


def write_mp4(path: str, frames: np.ndarray, fps: int = 8, crf: int = 15) -> None:
    """Encode RGB uint8 ``(T, H, W, 3)`` frames as H.264 mp4 with PyAV.

    Single-threaded, no B-frames: deterministic bytes and exact frame counts
    for decord. ``H`` and ``W`` must be even (yuv420p).
    """
    import av
    t, h, w = frames.shape[:3]
    with av.open(path, mode='w') as container:
        stream = container.add_stream('libx264', rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = 'yuv420p'
        stream.thread_count = 1
        stream.options = {'crf': str(crf), 'preset': 'veryfast', 'bf': '0', 'threads': '1'}
        for f in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format='rgb24')
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_list(path: str, rows: List[Tuple[str, int]]) -> None:
    with open(path, 'w') as f:
        for rel, label in rows:
            f.write(f'{rel} {label}\n')


def _write_video_item(job: Tuple[str, str, str, int, int, int, int, int, int]
                      ) -> Tuple[str, int]:
    """Render and encode one toy video (a :func:`make_video_set` item; picklable for workers)."""
    set_dir, kind, split, i, num_classes, seed, size, num_frames, fps = job
    make = spatial_video if kind == 'spatial' else temporal_video
    label = i % num_classes
    frames, _ = make(item_rng(seed, kind, split, i), label, size, num_frames)
    rel = f'{split}/{kind}_{split}_{i:05d}.mp4'
    write_mp4(osp.join(set_dir, rel), frames, fps=fps)
    return rel, label


def make_video_set(root: str, kind: str, num_train: int, num_val: int, seed: int = 0,
                   size: int = 64, num_frames: int = 16, fps: int = 8,
                   workers: int = 1) -> Dict[str, str]:
    """Write one video set (``kind`` = ``'spatial'`` or ``'temporal'``).

    Labels are balanced: item ``i`` has label ``i % num_classes``. Every item
    draws from its own generator, so ``workers`` processes write the same
    bytes as one.

    Returns:
        dict: split -> annotation list path.
    """
    if kind == 'spatial':
        classes = SHAPES
    elif kind == 'temporal':
        classes = TEMPORAL_CLASSES
    else:
        raise ValueError(f"kind must be 'spatial' or 'temporal', got {kind!r}")
    if size % 2:
        raise ValueError(f'video size must be even (H.264 yuv420p), got {size}')
    set_dir = osp.join(root, kind)
    lists = {}
    for split, n in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(set_dir, split), exist_ok=True)
        jobs = [(set_dir, kind, split, i, len(classes), seed, size, num_frames, fps)
                for i in range(n)]
        if workers > 1 and n > 1:
            import multiprocessing
            # fork where there is one: a spawned worker would import bevt_mm (torch, mmaction)
            # again, seconds per process; the workers use NumPy and PyAV only
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context('fork' if 'fork' in methods else None)
            with context.Pool(workers) as pool:
                rows = pool.map(_write_video_item, jobs, chunksize=8)
        else:
            rows = [_write_video_item(job) for job in jobs]
        lists[split] = osp.join(set_dir, f'{split}_list.txt')
        _write_list(lists[split], rows)
    with open(osp.join(set_dir, 'classes.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    return lists


def make_image_set(root: str, num_train: int, num_val: int, seed: int = 0, size: int = 64,
                   photo_fraction: float = 0.25) -> Dict[str, str]:
    """Write the image set (JPEG) and ImageNet-style lists ``path label``.

    A fraction ``photo_fraction`` of the items are crops of scikit-image's
    sample photographs (label ``len(SHAPES)``); the rest are generated scenes
    (label = shape of the largest object).
    """
    from PIL import Image
    photos = available_photos() if photo_fraction > 0 else []
    set_dir = osp.join(root, 'images')
    lists = {}
    for split, n in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(set_dir, split), exist_ok=True)
        rows = []
        for i in range(n):
            rng = item_rng(seed, 'images', split, i)
            if photos and rng.random() < photo_fraction:
                img, label = photo_crop(rng, photos, size), len(SHAPES)
            else:
                img, label = scene_image(rng, size)
            rel = f'{split}/img_{split}_{i:05d}.jpg'
            Image.fromarray(img).save(osp.join(set_dir, rel), quality=90)
            rows.append((rel, label))
        lists[split] = osp.join(set_dir, f'{split}_list.txt')
        _write_list(lists[split], rows)
    with open(osp.join(set_dir, 'classes.txt'), 'w') as f:
        f.write('\n'.join(IMAGE_CLASSES) + '\n')
    return lists


_README = """# Toy data for bevt_mm (generated by tools/make_toy_data.py)

seed={seed}; videos: {num_frames} frames of {size} x {size} (H.264 mp4, {fps} fps);
images: {image_size} x {image_size} JPEG.

| set | folder | train | val | classes |
|---|---|---|---|---|
| images (image stream) | images/ | {images_train} | {images_val} | {image_classes} |
| toy-spatial (Kinetics-like) | spatial/ | {spatial_train} | {spatial_val} | {shapes} |
| toy-temporal (SSv2-like) | temporal/ | {temporal_train} | {temporal_val} | {temporal} |

Annotation lists: `<set>/{{train,val}}_list.txt`, one `relative/path label` per line,
paths relative to the set folder (MMAction2 VideoDataset:
`ann_file='{root}/spatial/train_list.txt', data_prefix=dict(video='{root}/spatial')`).

* toy-spatial: the class is the object's shape (and its texture: circle solid,
  square stripes, triangle checks, cross rings); motion, speed and rotation are
  random and independent of the class, so one frame is enough.
* toy-temporal: every video is one bright object sliding horizontally on a
  torus (uniform random start; the dark, weakly textured background pans with
  it); the class is the order its frames are shown in: right (f0..f15), left (reversed),
  right_fast (even frames then odd: sweeps right twice at double speed),
  left_fast (its reverse). Any single frame has
  the same distribution in every class, and every class shows the same set of
  frames, so single-frame or shuffled input cannot tell the class.
* images: generated shape scenes (label = largest shape) and crops of
  scikit-image's sample photographs (label 4 = photo).

See bevt_mm/testing/toy_data.py for the details. Generation took {seconds:.1f} s.
"""


def make_toy_data(root: str, seed: int = 0, size: int = 64, num_frames: int = 16,
                  image_size: Optional[int] = None, num_images: Tuple[int, int] = (400, 100),
                  num_spatial: Tuple[int, int] = (200, 80),
                  num_temporal: Tuple[int, int] = (200, 80), photo_fraction: float = 0.25,
                  fps: int = 8, workers: int = 1) -> Dict:
    """Write all toy sets under ``root``; returns the summary (also ``meta.json``).

    ``workers`` processes render and encode the videos (same bytes as one).
    """
    image_size = size if image_size is None else image_size
    start = time.time()
    os.makedirs(root, exist_ok=True)
    lists = dict(
        images=make_image_set(root, *num_images, seed=seed, size=image_size,
                              photo_fraction=photo_fraction),
        spatial=make_video_set(root, 'spatial', *num_spatial, seed=seed, size=size,
                               num_frames=num_frames, fps=fps, workers=workers),
        temporal=make_video_set(root, 'temporal', *num_temporal, seed=seed, size=size,
                                num_frames=num_frames, fps=fps, workers=workers),
    )
    seconds = time.time() - start
    meta = dict(version=DATA_VERSION, seed=seed, size=size, image_size=image_size, num_frames=num_frames, fps=fps,
                photo_fraction=photo_fraction,
                counts=dict(images=list(num_images), spatial=list(num_spatial),
                            temporal=list(num_temporal)),
                classes=dict(images=list(IMAGE_CLASSES), spatial=list(SHAPES),
                             temporal=list(TEMPORAL_CLASSES)),
                lists=lists, seconds=round(seconds, 2))
    with open(osp.join(root, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    with open(osp.join(root, 'README.md'), 'w') as f:
        f.write(_README.format(
            seed=seed, size=size, image_size=image_size, num_frames=num_frames, fps=fps,
            images_train=num_images[0], images_val=num_images[1],
            spatial_train=num_spatial[0], spatial_val=num_spatial[1],
            temporal_train=num_temporal[0], temporal_val=num_temporal[1],
            image_classes=', '.join(IMAGE_CLASSES), shapes=', '.join(SHAPES),
            temporal=', '.join(TEMPORAL_CLASSES), root=root, seconds=seconds))
    return meta
