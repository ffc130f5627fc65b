"""Fixtures: small real media files (H.264 mp4 via PyAV, JPEG via Pillow)."""
import os.path as osp
from typing import Dict, List

import av
import numpy as np
import pytest
from PIL import Image


def write_mp4(path: str, num_frames: int, height: int = 96, width: int = 128,
              seed: int = 0) -> None:
    """Encode a moving-gradient clip with libx264 (decodable by decord)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    with av.open(path, mode='w') as container:
        stream = container.add_stream('libx264', rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
        for t in range(num_frames):
            frame = np.roll(base, shift=3 * t, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_jpeg(path: str, height: int, width: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([(xx * 255 // max(width - 1, 1)), (yy * 255 // max(height - 1, 1)),
                    np.full_like(xx, int(rng.integers(0, 256)))], -1).astype(np.uint8)
    Image.fromarray(img).save(path, quality=90)


@pytest.fixture(scope='session')
def media(tmp_path_factory) -> Dict[str, object]:
    """Videos, images, their lists, and one corrupt file of each kind."""
    root = tmp_path_factory.mktemp('bevt_media')
    videos: List[str] = []
    for i, frames in enumerate((40, 24, 48)):
        name = f'video_{i}.mp4'
        write_mp4(str(root / name), frames, seed=i)
        videos.append(name)
    (root / 'corrupt.mp4').write_bytes(np.random.default_rng(1).bytes(4096))
    img_dir = root / 'images'
    images: List[str] = []
    for c in range(2):
        (img_dir / f'class_{c}').mkdir(parents=True)
        for j in range(3):
            name = f'class_{c}/img_{j}.jpg'
            write_jpeg(str(img_dir / name), 90 + 10 * j, 120, seed=10 * c + j)
            images.append(name)
    (img_dir / 'corrupt.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg' * 20)
    video_list = root / 'videos.txt'
    video_list.write_text(''.join(f'{v} 0\n' for v in videos))
    video_list_bad = root / 'videos_with_corrupt.txt'
    video_list_bad.write_text(''.join(f'{v} 0\n' for v in videos + ['corrupt.mp4']))
    image_list = root / 'images.txt'
    image_list.write_text(''.join(f'{p} {i // 3}\n' for i, p in enumerate(images)))
    image_list_bad = root / 'images_with_corrupt.txt'
    image_list_bad.write_text(''.join(f'{p} 0\n' for p in images + ['corrupt.jpg']))
    return dict(root=str(root), img_root=str(img_dir), videos=videos, images=images,
                video_list=str(video_list), video_list_bad=str(video_list_bad),
                image_list=str(image_list), image_list_bad=str(image_list_bad),
                corrupt_mp4=osp.join(str(root), 'corrupt.mp4'),
                corrupt_jpg=osp.join(str(img_dir), 'corrupt.jpg'))



def _video_pipeline(clip_len=16, frame_interval=8, scale=(256, 320), crop=224, tok=112):
    return [
        dict(type='DecordInit'),
        dict(type='CheckVideoLength', min_frames=clip_len // 2),
        dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
        dict(type='DecordDecode'),
        dict(type='RandomRescale', scale_range=scale, interpolation='bicubic'),
        dict(type='RandomCrop', size=crop),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='TokenizerView', size=tok),
        dict(type='TubeMaskGenerator', num_frames=clip_len, temporal_patch=2,
             masked_tube_range=(0.5, 1.0), input_size=crop // 16, num_masking_patches=98
             if crop == 224 else (crop // 16)**2 // 2, min_num_patches=16 if crop == 224 else 2),
        dict(type='PackBEVTInputs', modality='video'),
    ]


def _image_pipeline(scale=(256, 320), crop=224, tok=112):
    return [
        dict(type='LoadImageAsClip'),
        dict(type='RandomRescale', scale_range=scale, interpolation='bicubic'),
        dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0),
        dict(type='RandomCrop', size=crop),
        dict(type='Flip', flip_ratio=0.5),
        dict(type='TokenizerView', size=tok),
        dict(type='BlockMaskGenerator', input_size=crop // 16, num_masking_patches=98
             if crop == 224 else (crop // 16)**2 // 2, min_num_patches=16 if crop == 224 else 2),
        dict(type='PackBEVTInputs', modality='image'),
    ]


@pytest.fixture(scope='session')
def video_pipeline():
    """Factory of the recipe's video pipeline (paper sizes by default)."""
    return _video_pipeline


@pytest.fixture(scope='session')
def image_pipeline():
    """Factory of the recipe's image pipeline (paper sizes by default)."""
    return _image_pipeline
