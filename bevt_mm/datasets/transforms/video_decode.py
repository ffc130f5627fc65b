"""Video decoding: torchcodec with exact seeking, decord as the fall-back.

Two transform pairs that take the arguments and keys of MMAction2's
``DecordInit``/``DecordDecode`` (``filename`` in; ``video_reader``,
``total_frames``, ``avg_fps``, then ``imgs``, ``original_shape``,
``img_shape`` out):

* :class:`VideoInit` / :class:`VideoDecode`: the backend is chosen when the
  transform is built. ``backend='auto'`` (the paper configs' ``video_backend``)
  takes torchcodec when it and the system FFmpeg libraries load, else decord
  with a one-line warning; the environment variable ``BEVT_VIDEO_BACKEND``
  (``torchcodec`` or ``decord``) overrides ``'auto'`` without editing configs.
* :class:`TorchCodecInit` / :class:`TorchCodecDecode`: torchcodec only.

The frame at index ``i`` is the ``i``-th frame a player shows:

* torchcodec runs with ``seek_mode='exact'``: the frame index is built by a
  scan of the file, so frame counts and frames follow the presentation
  timestamps (mp4 edit lists, variable frame rates). It runs one FFmpeg thread
  (parallelism comes from dataloader workers) and torch at one thread during
  its calls.
* decord is asked for the sorted unique indices (it seeks back to a keyframe
  for each index below the last one) and the requested order is restored.
  decord ignores mp4 edit lists (``ffmpeg -ss ... -c copy`` cuts): it counts
  frames a player hides, so such files are refused under decord.
* Where timestamps cannot place a frame (:mod:`.video_probe`: AVI with a
  codec that may reorder frames, as XviD/DivX MPEG-4 Part 2 with B-frames;
  under decord also MPEG-4 Part 2 in mp4 and Matroska), frames are read in
  decoding order from the first one (:class:`SequentialReader`); MPEG
  program/transport streams and raw streams are refused.

File faults (missing, empty, garbage, truncated, audio-only, undecodable,
edit lists under decord, frames without timestamps where decord would seek)
raise :class:`~.loading.DecodeError` (a ``RuntimeError``) or
``FileNotFoundError`` naming the file, which the robust datasets
(:mod:`bevt_mm.datasets.robust`) log, count and replace.
"""
import contextlib
import functools
import io
import logging
import os
import os.path as osp
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmaction.registry import TRANSFORMS
from .loading import DecodeError
from .video_probe import frame_access

BACKENDS = ('auto', 'torchcodec', 'decord')
#: Environment variable that overrides ``backend='auto'`` (``torchcodec`` or ``decord``).
BACKEND_ENV = 'BEVT_VIDEO_BACKEND'
#: Debian/Ubuntu packages of the FFmpeg 5.1 runtime libraries torchcodec loads.
FFMPEG_DEBIAN_PACKAGES = ('libavcodec59 libavformat59 libavutil57 libavdevice59 libavfilter8 '
                          'libswscale6 libswresample4')
INSTALL_HINT = ('install it with pip install "bevt_mm[torchcodec]" and, as root, '
                f'apt-get install {FFMPEG_DEBIAN_PACKAGES} (docs/decoding.md)')


@functools.lru_cache(maxsize=None)
def torchcodec_status() -> Tuple[bool, str]:
    """Whether torchcodec and the FFmpeg libraries it needs load in this process.

    Returns:
        tuple[bool, str]: ``(True, 'torchcodec <version>')``, or ``(False, reason)``
        with the first line of the import error.
    """
    try:
        import torchcodec
        from torchcodec.decoders import VideoDecoder  # noqa: F401 (loads FFmpeg)
    except Exception as err:  # ImportError; RuntimeError/OSError without FFmpeg
        lines = str(err).strip().splitlines()
        return False, f'{type(err).__name__}: {lines[0] if lines else ""}'.rstrip(': ')
    return True, f'torchcodec {torchcodec.__version__}'


_fallback_logged = False


def resolve_video_backend(backend: str = 'auto') -> str:
    """The decoder that ``backend`` means in this process.

    Args:
        backend (str): ``'auto'`` (torchcodec if it loads, else decord;
            ``$BEVT_VIDEO_BACKEND`` overrides), ``'torchcodec'`` or ``'decord'``.

    Returns:
        str: ``'torchcodec'`` or ``'decord'``.

    Raises:
        ValueError: unknown ``backend`` (or value of ``$BEVT_VIDEO_BACKEND``).
        ImportError: ``'torchcodec'`` asked for explicitly but it cannot load.
    """
    global _fallback_logged
    if backend not in BACKENDS:
        raise ValueError(f'video backend {backend!r}: choose one of {BACKENDS} '
                         '(config key video_backend)')
    if backend == 'auto' and os.environ.get(BACKEND_ENV):
        backend = os.environ[BACKEND_ENV].strip().lower()
        if backend not in BACKENDS:
            raise ValueError(f'{BACKEND_ENV}={os.environ[BACKEND_ENV]!r}: choose one of '
                             f'{BACKENDS}')
    if backend == 'decord':
        return 'decord'
    ok, why = torchcodec_status()
    if ok:
        return 'torchcodec'
    if backend == 'torchcodec':
        raise ImportError(f"video backend 'torchcodec' cannot load ({why}): {INSTALL_HINT}; "
                          "or set video_backend='decord'")
    if not _fallback_logged:
        _fallback_logged = True
        print_log(f'video_backend=auto: torchcodec cannot load ({why}); decoding with decord, '
                  'which rejects edit-list mp4s; to use torchcodec, ' + INSTALL_HINT,
                  logger='current', level=logging.WARNING)
    return 'decord'


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch at one intra-op thread inside the block (torchcodec's tensor copies).

    Dataloader workers already run at one thread (a no-op there). In a main
    process, torchcodec's small per-frame copies spread over torch's OpenMP
    pool cost more CPU than they save (docs/decoding.md, Threads).
    """
    import torch
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _video_path(filename: str) -> str:
    # MMAction2's DecordInit: a name without extension means '<name>.mp4'.
    return filename + '.mp4' if osp.splitext(filename)[0] == filename else filename


def _source(path: str, io_backend: str, backend_args: Dict) -> Union[str, io.BytesIO]:
    """A local path as is (checked), anything else read into memory."""
    if io_backend == 'disk' and not backend_args:
        if not osp.isfile(path):
            raise FileNotFoundError(f'video file not found: {path}')
        if osp.getsize(path) == 0:
            raise DecodeError(f'cannot decode video {path}: the file is empty (0 bytes)')
        return path
    from mmengine.fileio import get
    return io.BytesIO(get(path, backend_args=dict(backend=io_backend, **backend_args)))


class SequentialReader:
    """Frames in the order the decoder outputs them (a player's order), without seeking.

    For files whose timestamps cannot place a frame (see
    :func:`.video_probe.frame_access`). Decodes with decord from the first
    frame up to the largest index asked for; asking for an earlier frame than
    the last one decoded reopens the file.

    Args:
        path (str): the file, for messages.
        source (str | io.BytesIO): what decord opens.
        num_threads (int): decord threads. Defaults to 1.
        why (str): why the file is read in order, for messages. Defaults to ''.

    Raises:
        DecodeError: decord cannot open the file, or it has no frames.
    """

    def __init__(self, path: str, source: Union[str, io.BytesIO], num_threads: int = 1,
                 why: str = '') -> None:
        self.path, self.source, self.num_threads = path, source, num_threads
        self.why = why or 'its frames can only be read in order'
        self._reader, self._next = None, 0
        self._open()
        self.num_frames = len(self._reader)
        self.avg_fps = float(self._reader.get_avg_fps())
        if self.num_frames < 1:
            raise DecodeError(f'cannot decode video {path} with decord: no video frames')

    def _open(self) -> None:
        import decord
        if isinstance(self.source, io.BytesIO):
            self.source.seek(0)
        try:
            self._reader = decord.VideoReader(self.source, num_threads=self.num_threads)
        except Exception as err:  # DECORDError, RuntimeError
            raise DecodeError(f'cannot decode video {self.path} with decord, which reads it in '
                              f'order ({self.why}): {type(err).__name__}: {_first_line(err)}'
                              ) from err
        self._next = 0

    def __len__(self) -> int:
        return self.num_frames

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at sorted unique ``indices`` as a ``(N, H, W, 3)`` uint8 RGB array."""
        if indices[0] < self._next:
            self._open()
        frames = []
        for index in indices:
            while True:
                try:
                    frame = self._reader.next()
                except StopIteration:
                    raise DecodeError(f'video {self.path} ends after {self._next} decoded frames '
                                      f'of the {self.num_frames} its index lists') from None
                self._next += 1
                if self._next > index:
                    frames.append(frame.asnumpy())
                    break
        return np.stack(frames)


def open_torchcodec(path: str, source: Union[str, io.BytesIO], num_threads: int = 1
                    ) -> Tuple[Any, int, float]:
    """Open ``source`` with torchcodec (exact seek mode, RGB ``NHWC`` frames).

    Returns:
        tuple: ``(decoder, total_frames, avg_fps)``.

    Raises:
        DecodeError: no video stream, an unreadable container, no frames, or
            a truncated file (the frames end more than ``max(0.5 s, 3 frames)``
            before the duration the header announces).
    """
    from torchcodec.decoders import VideoDecoder
    try:
        with _one_torch_thread():
            decoder = VideoDecoder(
                source.getvalue() if isinstance(source, io.BytesIO) else source,
                seek_mode='exact', num_ffmpeg_threads=num_threads, dimension_order='NHWC')
        meta = decoder.metadata
    except Exception as err:  # RuntimeError (FFmpeg), ValueError (no video stream)
        raise DecodeError(f'cannot decode video {path} with torchcodec: '
                          f'{type(err).__name__}: {_first_line(err)}') from err
    total = int(meta.num_frames or 0)
    if total < 1:
        raise DecodeError(f'cannot decode video {path} with torchcodec: no video frames')
    fps = float(meta.average_fps or 0.0)
    announced, begin, end = (meta.duration_seconds_from_header,
                             meta.begin_stream_seconds_from_content,
                             meta.end_stream_seconds_from_content)
    if announced and fps > 0 and begin is not None and end is not None:
        missing = announced - (end - begin)
        if missing > max(0.5, 3.0 / fps):
            raise DecodeError(f'video {path} is truncated: its header announces {announced:.2f} s '
                              f'but the frames end after {end - begin:.2f} s ({total} frames): '
                              're-download or re-encode it')
    return decoder, total, fps


def open_decord(path: str, source: Union[str, io.BytesIO], num_threads: int = 1,
                reject_edit_lists: bool = True) -> Tuple[Any, int, float]:
    """Open ``source`` with decord.

    Returns:
        tuple: ``(reader, total_frames, avg_fps)``.

    Raises:
        DecodeError: decord cannot open it; frames without a presentation
            time (decord would seek by them); or (``reject_edit_lists``) an
            edit list hides frames that decord would count and return.
    """
    import decord
    try:
        reader = decord.VideoReader(source, num_threads=num_threads)
        total = len(reader)
        fps = float(reader.get_avg_fps())
        starts = reader.get_frame_timestamp(np.arange(total))[:, 0] if total else np.zeros(0)
    except Exception as err:  # DECORDError (an Exception), RuntimeError
        raise DecodeError(f'cannot decode video {path} with decord: '
                          f'{type(err).__name__}: {_first_line(err)}') from err
    if total < 1:
        raise DecodeError(f'cannot decode video {path} with decord: no video frames')
    # A missing presentation time comes back as FFmpeg's AV_NOPTS_VALUE
    # (-2**63) in stream time units: about -1e17 s.
    missing = int((~np.isfinite(starts) | (np.abs(starts) > 1e9)).sum())
    if missing:
        raise DecodeError(f'video {path}: {missing} of its {total} frames have no presentation '
                          'time, so decord cannot seek to a frame index in it; decode it with '
                          "video_backend='torchcodec' or re-encode it "
                          '(ffmpeg -i in -c:v libx264 out.mp4)')
    # decord reports presentation times relative to the stream start that
    # the edit list sets: frames before it are hidden from a player.
    hidden = int((starts < -0.5 / max(fps, 1.0)).sum())
    if reject_edit_lists and hidden:
        raise DecodeError(f'video {path} has an mp4 edit list (a stream-copy cut such as '
                          f'`ffmpeg -ss ... -c copy`): {hidden} of the {total} frames decord '
                          'counts are hidden from players and decord returns shifted frames; '
                          "decode it with video_backend='torchcodec' or re-encode it "
                          '(ffmpeg -i in.mp4 -c:v libx264 out.mp4)')
    return reader, total, fps


def open_video(path: str, source: Union[str, io.BytesIO], backend: str, num_threads: int = 1
               ) -> Tuple[Any, int, float]:
    """Open ``source`` with ``backend`` (``'torchcodec'`` or ``'decord'``).

    Files whose timestamps cannot place a frame (:func:`.video_probe.frame_access`)
    get a :class:`SequentialReader` (AVI with a codec that may reorder frames,
    with either backend; MPEG-4 Part 2 in mp4/mov/Matroska, under decord) or
    are refused (MPEG program/transport streams, raw streams).

    Returns:
        tuple: ``(reader, total_frames, avg_fps)``.

    Raises:
        DecodeError: a refused file; see also :func:`open_torchcodec`,
            :func:`open_decord`, :class:`SequentialReader`.
    """
    access, why = frame_access(source, backend)
    if access == 'refuse':
        raise DecodeError(f'video {path} is {why}; re-encode it to mp4 '
                          '(ffmpeg -i in -c:v libx264 out.mp4)')
    if access == 'sequential':
        reader = SequentialReader(path, source, num_threads, why)
        return reader, reader.num_frames, reader.avg_fps
    if backend == 'torchcodec':
        return open_torchcodec(path, source, num_threads)
    return open_decord(path, source, num_threads)


def _first_line(err: BaseException) -> str:
    """The first line of an error, without torchcodec's ``function, file.cpp:N, `` prefix."""
    lines = str(err).strip().splitlines()
    return re.sub(r'^\w+, \S+\.cpp:\d+, ', '', lines[0]) if lines else ''


def _key_frames_before(reader: Any, inds: np.ndarray) -> np.ndarray:
    """The index of the keyframe at or before each of ``inds`` (torchcodec or decord reader)."""
    if hasattr(reader, 'get_frames_at'):
        keys = reader._get_key_frame_indices()
    else:
        keys = reader.get_key_indices()
    keys = np.asarray(keys, dtype=np.int64)
    if keys.size == 0:
        return inds
    return keys[np.maximum(np.searchsorted(keys, inds, side='right') - 1, 0)]


def decode_frames(reader: Any, frame_inds: np.ndarray, path: Optional[str] = None,
                  mode: str = 'accurate') -> List[np.ndarray]:
    """Frames ``frame_inds`` (any order, repeats allowed) as RGB ``HxWx3`` uint8 arrays.

    The decoder is asked for the sorted unique indices once; the result keeps
    the requested order, and repeated indices get their own copies (in-place
    transforms such as ``Flip`` must not touch a frame twice).

    Args:
        reader: a torchcodec ``VideoDecoder``, a decord ``VideoReader`` or a
            :class:`SequentialReader`.
        frame_inds (np.ndarray): frame indices, any shape (flattened).
        path (str, optional): the file, for messages.
        mode (str): ``'accurate'``: the frame at each index. ``'efficient'``
            (``DecordDecode``'s mode): the keyframe at or before each index,
            which needs no decoding of the frames between (a
            :class:`SequentialReader` stays accurate). Defaults to
            ``'accurate'``.

    Returns:
        list[np.ndarray]: ``len(frame_inds)`` frames, in the requested order.

    Raises:
        IndexError: an index outside ``0 .. total_frames - 1`` (a sampler bug).
        DecodeError: the decoder fails on the file's data.
    """
    inds = np.asarray(frame_inds, dtype=np.int64).reshape(-1)
    total = len(reader)
    if inds.size == 0 or inds.min() < 0 or inds.max() >= total:
        raise IndexError(f'frame_inds {inds.tolist()} of video {path} outside 0..{total - 1}: '
                         'the frame sampler must keep indices within total_frames')
    unique, inverse = np.unique(inds, return_inverse=True)
    if mode == 'efficient' and not isinstance(reader, SequentialReader):
        unique, where = np.unique(_key_frames_before(reader, unique), return_inverse=True)
        inverse = where[inverse]
    try:
        if hasattr(reader, 'get_frames_at'):  # torchcodec
            with _one_torch_thread():
                batch = reader.get_frames_at(unique.tolist()).data.numpy()
        else:  # decord or SequentialReader
            batch = reader.get_batch(unique)
            batch = batch if isinstance(batch, np.ndarray) else batch.asnumpy()
    except DecodeError:
        raise
    except Exception as err:
        raise DecodeError(f'cannot decode frames {unique.tolist()} of video {path}: '
                          f'{type(err).__name__}: {_first_line(err)}') from err
    if unique.size == inds.size and np.array_equal(unique, inds):
        return list(batch)
    return list(batch[inverse.reshape(-1)])


@TRANSFORMS.register_module()
class VideoInit(BaseTransform):
    """Open a video with torchcodec or decord (``DecordInit``'s arguments and keys).

    **Required keys**: ``filename`` (a name without extension means
    ``<name>.mp4``, as ``DecordInit``).
    **Added keys**: ``video_reader``, ``total_frames`` (the frames a player
    shows; decord's count under decord), ``avg_fps``.

    Args:
        io_backend (str): mmengine file backend. Defaults to ``'disk'``.
        num_threads (int): decoder threads (FFmpeg threads for torchcodec).
            Defaults to 1.
        backend (str): ``'auto'`` (torchcodec when it and FFmpeg load, else
            decord with a warning; ``$BEVT_VIDEO_BACKEND`` overrides),
            ``'torchcodec'`` or ``'decord'``. Resolved when built.
            Defaults to ``'auto'``.
        **kwargs: mmengine ``backend_args`` for a non-disk ``io_backend``
            (``DecordInit``'s file-client arguments).

    Raises:
        ValueError: unknown ``backend``.
        ImportError: ``backend='torchcodec'`` and torchcodec cannot load.
    """

    def __init__(self, io_backend: str = 'disk', num_threads: int = 1, backend: str = 'auto',
                 **kwargs) -> None:
        self.requested_backend = backend
        self.backend = resolve_video_backend(backend)
        self.io_backend = io_backend
        self.num_threads = int(num_threads)
        self.kwargs = kwargs

    def transform(self, results: Dict) -> Dict:
        """Open ``results['filename']``."""
        path = _video_path(results['filename'])
        source = _source(path, self.io_backend, self.kwargs)
        reader, total, fps = open_video(path, source, self.backend, self.num_threads)
        results['video_reader'] = reader
        results['total_frames'] = total
        results['avg_fps'] = fps
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(io_backend={self.io_backend}, '
                f'num_threads={self.num_threads}, backend={self.backend})')


@TRANSFORMS.register_module()
class VideoDecode(BaseTransform):
    """Decode ``frame_inds`` from the reader of :class:`VideoInit` (``DecordDecode``'s
    arguments and keys).

    **Required keys**: ``video_reader``, ``frame_inds``.
    **Added keys**: ``imgs`` (``[HxWx3 uint8 RGB]`` in ``frame_inds`` order),
    ``original_shape``, ``img_shape``; ``video_reader`` is released (None);
    ``gt_bboxes``/``proposals`` are scaled to pixels, as ``DecordDecode``.
    Works with every reader :class:`VideoInit` makes; indices are decoded
    once each, in increasing order (see :func:`decode_frames`).

    Args:
        mode (str): ``'accurate'`` (the frame at each index) or
            ``'efficient'`` (the keyframe at or before each index: fast, for
            large scene-level datasets). Defaults to ``'accurate'``.

    Raises:
        ValueError: unknown ``mode``.
    """

    MODES = ('accurate', 'efficient')

    def __init__(self, mode: str = 'accurate') -> None:
        if mode not in self.MODES:
            raise ValueError(f'{type(self).__name__}: mode={mode!r}, choose one of {self.MODES}')
        self.mode = mode

    def transform(self, results: Dict) -> Dict:
        """Decode the frames."""
        reader = results['video_reader']
        if results['frame_inds'].ndim != 1:
            results['frame_inds'] = np.squeeze(results['frame_inds'])
        imgs = decode_frames(reader, results['frame_inds'], results.get('filename'), self.mode)
        results['video_reader'] = None
        del reader
        results['imgs'] = imgs
        results['original_shape'] = imgs[0].shape[:2]
        results['img_shape'] = imgs[0].shape[:2]
        if 'gt_bboxes' in results:  # as DecordDecode: boxes are stored relative
            h, w = results['img_shape']
            scale = np.array([w, h, w, h])
            results['gt_bboxes'] = (results['gt_bboxes'] * scale).astype(np.float32)
            if results.get('proposals') is not None:
                results['proposals'] = (results['proposals'] * scale).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(mode={self.mode})'


@TRANSFORMS.register_module()
class TorchCodecInit(VideoInit):
    """:class:`VideoInit` with torchcodec only (exact seeking, ``num_threads`` FFmpeg threads;
    AVI files that need it are read with a :class:`SequentialReader`).

    Args:
        io_backend (str): mmengine file backend. Defaults to ``'disk'``.
        num_threads (int): FFmpeg threads. Defaults to 1.
        **kwargs: mmengine ``backend_args`` for non-disk ``io_backend``.
    """

    def __init__(self, io_backend: str = 'disk', num_threads: int = 1, **kwargs) -> None:
        super().__init__(io_backend, num_threads, backend='torchcodec', **kwargs)


@TRANSFORMS.register_module()
class TorchCodecDecode(VideoDecode):
    """:class:`VideoDecode` for the reader of :class:`TorchCodecInit`."""


__all__ = ['BACKENDS', 'SequentialReader', 'TorchCodecDecode', 'TorchCodecInit', 'VideoDecode',
           'VideoInit', 'decode_frames', 'open_decord', 'open_torchcodec', 'open_video',
           'resolve_video_backend', 'torchcodec_status']
