"""Real instances of the file faults met in public video/image data sets.

Each writer produces the fault the way it happens in the wild (no random bytes):

* :func:`write_truncated_mp4`: an interrupted download of a "faststart" mp4
  (moov atom before mdat, as YouTube/Kinetics files are): the header still
  announces every frame but the data stops. decord 0.6.0 raises
  ``DECORDError: ... av_read_frame failed`` (an ``Exception``, not a
  ``RuntimeError``) in ``VideoReader()``, i.e. in MMAction2's ``DecordInit``.
  (Cutting a file whose moov is at the end loses the moov: decord raises
  ``RuntimeError: Error reading ...``, which was already handled.)
* :func:`write_audio_only_mp4`: an mp4 with an AAC track and no video stream
  (a Kinetics download that kept only the audio). decord raises
  ``DECORDError: ... cannot find video stream``.
* :func:`write_raw_h264`: an H.264 elementary stream without a container
  (a ``.mp4`` that is not one): ``DECORDError: ... Failed to measure
  duration/frame-count due to broken metadata``.
* :func:`write_16bit_ramp`: a real 0..65535 grayscale ramp (16-bit PNG/TIFF;
  Pillow opens it as ``I;16``/``I;16B``/``I``) and its float (``F``) TIFF twin.
"""
from typing import Optional

import numpy as np


def write_faststart_mp4(path: str, num_frames: int = 32, size: int = 64, seed: int = 0,
                        fmt: Optional[str] = None) -> None:
    """H.264 mp4 of random frames with the moov atom at the front (``movflags=faststart``);
    ``fmt='h264'``: the raw H.264 stream, no container."""
    import av
    rng = np.random.default_rng(seed)
    options = {'movflags': 'faststart'} if fmt is None else {}
    with av.open(path, mode='w', format=fmt, options=options) as container:
        stream = container.add_stream('libx264', rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = 'yuv420p'
        stream.options = {'crf': '15', 'preset': 'veryfast', 'bf': '0', 'threads': '1'}
        for _ in range(num_frames):
            frame = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_truncated_mp4(path: str, keep: float = 0.6, **kwargs) -> None:
    """A faststart mp4 cut after ``keep`` of its bytes (an interrupted download)."""
    write_faststart_mp4(path, **kwargs)
    with open(path, 'rb') as f:
        data = f.read()
    assert data[:64].find(b'moov') > 0, 'the moov atom must be at the front'
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep)])


def write_raw_h264(path: str, **kwargs) -> None:
    """A raw H.264 stream (no container, no frame count) under the given name."""
    write_faststart_mp4(path, fmt='h264', **kwargs)


def write_audio_only_mp4(path: str, seconds: float = 1.0, rate: int = 16000) -> None:
    """An AAC-in-mp4 file without a video stream (a 440 Hz tone)."""
    import av
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate))
    samples = samples.astype(np.float32)[None]
    with av.open(path, mode='w') as container:
        stream = container.add_stream('aac', rate=rate)
        stream.layout = 'mono'
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1024]),
                                               format='fltp', layout='mono')
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def ramp16(height: int = 8, width: int = 64) -> np.ndarray:
    """uint16 ``(height, width)``: every row 0 .. 65535 left to right."""
    return np.tile(np.linspace(0, 65535, width).round().astype(np.uint16), (height, 1))


def write_16bit_ramp(path: str, mode: str = 'I;16', height: int = 8, width: int = 64) -> None:
    """Save :func:`ramp16` as ``mode``: ``I;16`` (PNG/TIFF), ``I;16B`` (TIFF),
    ``I`` (32-bit int TIFF holding 16-bit values) or ``F`` (float TIFF, 0..1)."""
    from PIL import Image
    ramp = ramp16(height, width)
    if mode == 'I;16':
        img = Image.fromarray(ramp)
    elif mode == 'I;16B':
        img = Image.frombytes('I;16B', (width, height), ramp.astype('>u2').tobytes())
    elif mode == 'I':
        img = Image.fromarray(ramp.astype(np.int32))
    elif mode == 'F':
        img = Image.fromarray(ramp.astype(np.float32) / 65535)
    else:
        raise ValueError(mode)
    img.save(path)
    with Image.open(path) as back:
        assert back.mode == mode, (path, back.mode)
