"""What a video file's container headers say about how its frames can be indexed.

Frame-accurate seeking (torchcodec's exact mode, decord's ``get_batch``) places
frames by their presentation timestamps. Some container/codec combinations do
not give usable ones; :func:`frame_access` names them from the header bytes,
without a decoder:

* ``'sequential'``: AVI stores no presentation times (its timestamps count
  packets in decoding order), so with a codec that may reorder frames
  (B-frames: MPEG-4 Part 2 as XviD/DivX write it, packed or not, H.264, ...)
  a timestamp does not name a displayed frame. Every AVI codec except the
  intra-only and raw ones of :data:`AVI_SEEKABLE_FOURCCS` is read in decoding
  order from the first frame.
* ``'sequential'`` under decord only: MPEG-4 Part 2 (``mp4v`` in mp4/mov,
  ``V_MPEG4/ISO`` or an MPEG-4 Part 2 FourCC in Matroska): torchcodec seeks
  in it exactly, decord's ``get_batch`` returns wrong frames once B-frames
  come in.
* ``'refuse'``: MPEG program and transport streams (``.mpg``, ``.vob``,
  ``.ts``, ``.mts``, ``.m2ts``): both libraries seek to the first frame's
  timestamp, which in these demuxers lands on a later keyframe (the first
  group of pictures is lost); raw video streams without a container (no
  timestamps at all).
* ``'seek'``: everything else (mp4/mov with H.264/HEVC, Matroska/WebM, ...).
"""
import io
import struct
from typing import BinaryIO, Optional, Set, Tuple, Union

#: AVI video FourCCs (``strf`` compression, upper case) of codecs that never reorder
#: frames (intra-only or raw): their AVI timestamps are presentation times.
AVI_SEEKABLE_FOURCCS = frozenset({
    'MJPG', 'AVRN', 'LJPG', 'JPGL', 'DMB1', 'MJPA', 'JPEG',  # Motion JPEG
    'DVSD', 'DV25', 'DV50', 'DVH1', 'DVHD', 'DVSL', 'CDVC',  # DV
    'HFYU', 'FFVH', 'FFV1', 'MAGY', 'LAGS',  # lossless intra
    'DIB ', 'RGB ', 'RAW ', 'I420', 'IYUV', 'YV12', 'YUY2', 'UYVY', 'Y800', '\0\0\0\0',  # raw
})
#: FourCCs of MPEG-4 Part 2 (upper case).
MPEG4_PART2_FOURCCS = frozenset({
    'XVID', 'DIVX', 'DX50', 'FMP4', 'MP4V', 'M4S2', '3IV2', 'DXGM', 'BLZ0', 'UMP4', 'RMP4',
    'XVIX', 'DM4V', 'SMP4', 'LMP4', 'HDX4', 'SN40', 'GEOX', 'DIV4', 'DIV5', 'DIV6'})
HEAD_BYTES = 1 << 16
#: Types of the first box of an ISO-BMFF (mp4/mov) file.
ISO_TOP_BOXES = (b'ftyp', b'moov', b'mdat', b'free', b'wide', b'skip', b'pnot')
#: The boxes from the file to ``stsd``, one level each.
MP4_CONTAINER_BOXES = (b'moov', b'trak', b'mdia', b'minf', b'stbl')


def _read(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def avi_video_fourcc(head: bytes) -> Optional[str]:
    """The FourCC of an AVI file's first video stream (upper case) from its first bytes.

    Args:
        head (bytes): The first bytes of the file (:data:`HEAD_BYTES` hold the
            headers of common AVIs).

    Returns:
        str | None: ``'XVID'``, ``'DIVX'``, ``'MJPG'``, ...; ``''`` for an AVI
        whose video header is not in ``head``; None for other containers.
    """
    if head[:4] != b'RIFF' or head[8:12] not in (b'AVI ', b'AVIX'):
        return None
    pos = head.find(b'strh')
    while pos >= 0:
        if head[pos + 8:pos + 12] == b'vids':
            # strf holds a BITMAPINFOHEADER: biCompression at byte 16 of its data.
            strf = head.find(b'strf', pos)
            code = head[strf + 24:strf + 28] if strf >= 0 else b''
            if len(code) < 4:
                code = head[pos + 12:pos + 16]  # strh's fccHandler
            return code.decode('latin-1').upper() if len(code) == 4 else ''
        pos = head.find(b'strh', pos + 4)
    return ''


def mp4_sample_entries(f: BinaryIO) -> Set[str]:
    """The sample entry types (``avc1``, ``mp4v``, ``mp4a``, ...) of an mp4/mov file.

    Walks the box headers ``moov/trak/mdia/minf/stbl/stsd`` (``moov`` at the
    start or the end of the file), reading a few bytes per box.

    Args:
        f (BinaryIO): The file, opened for binary reading and seekable.

    Returns:
        set[str]: The four-character sample entry types found (empty for a
        file without such boxes).
    """
    entries: Set[str] = set()

    def walk(start: int, end: int, depth: int) -> None:
        offset = start
        while offset + 8 <= end:
            size, kind = struct.unpack('>I4s', _read(f, offset, 8))
            header = 8
            if size == 1:
                size, header = struct.unpack('>Q', _read(f, offset + 8, 8))[0], 16
            elif size == 0:
                size = end - offset
            if size < header:
                return
            if kind == b'stsd':  # version/flags (4), entry count (4), then size (4) + type
                entries.add(_read(f, offset + 20, 4).decode('latin-1'))
            elif kind in MP4_CONTAINER_BOXES[depth:depth + 1]:
                walk(offset + header, min(offset + size, end), depth + 1)
            offset += size

    walk(0, f.seek(0, io.SEEK_END), 0)
    return entries


def frame_access(source: Union[str, io.BytesIO], backend: str = 'decord') -> Tuple[str, str]:
    """How frames of ``source`` can be placed by index (see the module doc).

    Args:
        source (str | io.BytesIO): a local path or the file's bytes.
        backend (str): ``'torchcodec'`` skips the checks that concern decord
            only (the codec of mp4 and Matroska files). Defaults to
            ``'decord'``.

    Returns:
        tuple[str, str]: ``(access, why)``: ``access`` is ``'seek'``,
        ``'sequential'`` or ``'refuse'``; ``why`` names the container and
        codec (empty for ``'seek'``).
    """
    if isinstance(source, io.BytesIO):
        position = source.tell()
        try:
            return _frame_access(source, backend)
        finally:
            source.seek(position)
    with open(source, 'rb') as f:
        return _frame_access(f, backend)


def _frame_access(f: BinaryIO, backend: str) -> Tuple[str, str]:
    head = _read(f, 0, 4096)
    if head[:4] in (b'RIFF', b'\x1a\x45\xdf\xa3'):  # AVI, Matroska: stream headers further in
        head += f.read(HEAD_BYTES - len(head))
    fourcc = avi_video_fourcc(head)
    if fourcc is not None:
        if fourcc in AVI_SEEKABLE_FOURCCS:
            return 'seek', ''
        return 'sequential', (f'AVI ({fourcc.strip() or "unknown codec"}): no presentation '
                              'times, and the codec may reorder frames')
    if head[4:8] in ISO_TOP_BOXES:  # mp4/mov
        if backend == 'torchcodec':
            return 'seek', ''
        if 'mp4v' in mp4_sample_entries(f):
            return 'sequential', 'MPEG-4 Part 2 video (mp4v) in mp4/mov'
        return 'seek', ''
    if head[:4] == b'\0\0\1\xba' or (len(head) > 188 and head[0] == head[188] == 0x47) or (
            len(head) > 196 and head[4] == head[196] == 0x47):
        return 'refuse', ('an MPEG program or transport stream: torchcodec and decord seek to '
                          "its first frame's timestamp, which in such streams lands on a later "
                          'keyframe, so their frame indices skip the frames a player shows first')
    if head[:3] == b'\0\0\1' or head[:4] == b'\0\0\0\1':
        return 'refuse', ('a raw video stream without a container: its frames carry no '
                          'timestamps to seek by')
    if backend == 'torchcodec':
        return 'seek', ''
    if head[:4] == b'\x1a\x45\xdf\xa3':  # Matroska / WebM: codec IDs in the Tracks element
        vfw = head.find(b'V_MS/VFW/FOURCC')
        if any(b'V_MPEG4/ISO/' + profile in head for profile in (b'ASP', b'SP', b'AP')) or (
                vfw >= 0 and any(code.encode() in head[vfw:vfw + 256].upper()
                                 for code in MPEG4_PART2_FOURCCS)):
            return 'sequential', 'MPEG-4 Part 2 video in Matroska'
    return 'seek', ''
