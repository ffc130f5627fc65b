"""Real video files whose frames say their own index, and a reference decode.

* :func:`write_indexed_clip`: H.264 mp4 (PyAV/libx264); frame ``i`` carries
  ``i`` in 8 black/white 16x16 blocks along the top (read back by
  :func:`frame_code`) over a texture that moves 3 px per frame, so no two
  frames are alike. ``vfr=True`` alternates 40 ms and 80 ms frame durations
  every 10 frames (a variable-frame-rate phone clip).
* :func:`stream_copy_cut`: ``ffmpeg -ss SECONDS -i clean.mp4 -c copy cut.mp4``
  with the ffmpeg binary of ``imageio-ffmpeg``: without re-encoding, the cut
  must start at the keyframe before ``SECONDS``, so the muxer writes an mp4
  edit list that hides the frames before it (how many Kinetics downloads were
  cut). Players show the frames from ``SECONDS`` on.
* :func:`reference_frames`: every frame PyAV decodes, in presentation order
  (FFmpeg's demuxer applies the edit list: the frames a player shows).
"""
import subprocess
from fractions import Fraction
from typing import List

import numpy as np

WIDTH, HEIGHT = 128, 64  # 8 code blocks of 16 px


def indexed_frames(num_frames: int):
    """The RGB frames (``HEIGHT x WIDTH x 3`` uint8) of an indexed clip, in order."""
    texture = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    for i in range(num_frames):
        img = np.roll(texture, 3 * i, axis=1)
        for bit in range(8):
            img[:16, 16 * bit:16 * (bit + 1)] = 255 if (i >> bit) & 1 else 0
        yield img


def write_indexed_clip(path: str, num_frames: int = 75, fps: int = 25, gop: int = 12,
                       vfr: bool = False, codec: str = 'libx264') -> None:
    """Write ``num_frames`` self-describing frames (see the module doc)."""
    import av
    with av.open(path, mode='w') as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, 'yuv420p'
        stream.codec_context.gop_size = gop
        stream.options = {'threads': '1'}
        time_base = Fraction(1, 1000) if vfr else Fraction(1, fps)
        stream.codec_context.time_base = time_base
        pts = 0
        for i, img in enumerate(indexed_frames(num_frames)):
            frame = av.VideoFrame.from_ndarray(img, format='rgb24')
            frame.pts, frame.time_base = pts, time_base
            pts += ((40 if (i // 10) % 2 == 0 else 80) if vfr else 1)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def stream_copy_cut(src: str, dst: str, start: float) -> None:
    """``ffmpeg -ss start -i src -c copy dst`` (an edit-list mp4)."""
    import imageio_ffmpeg
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-y', '-loglevel', 'error', '-ss',
                    str(start), '-i', src, '-c', 'copy', dst], check=True)


def reference_frames(path: str) -> List[np.ndarray]:
    """Every frame PyAV decodes from ``path`` (RGB ``HxWx3`` uint8)."""
    import av
    with av.open(path) as container:
        return [f.to_ndarray(format='rgb24') for f in container.decode(video=0)]


def frame_code(img: np.ndarray) -> int:
    """The index a frame of :func:`write_indexed_clip` carries."""
    return sum(int(img[8, 16 * bit + 8].mean() > 127) << bit for bit in range(8))
