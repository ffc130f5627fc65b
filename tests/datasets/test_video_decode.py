"""Video decoding on real files: the frames a player shows, with torchcodec and decord.

Reference: every frame PyAV decodes (FFmpeg applies mp4 edit lists). Clips
carry their own frame index (``video_clips``). torchcodec tests skip only
where torchcodec or its FFmpeg libraries cannot load (``make venv`` installs
both).
"""
import importlib
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmaction.registry import DATASETS, TRANSFORMS
from video_clips import (frame_code, reference_frames, stream_copy_cut, write_indexed_clip)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'reliability'))


def _torchcodec_loads() -> bool:
    try:
        importlib.import_module('torchcodec.decoders')  # loads the FFmpeg libraries
    except Exception:
        return False
    return True


TORCHCODEC = _torchcodec_loads()
needs_torchcodec = pytest.mark.skipif(
    not TORCHCODEC, reason='torchcodec or the FFmpeg libraries it needs cannot load here '
    '(make venv installs both; docs/decoding.md)')


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    """clean (75 frames, 25 fps, GOP 12), edit_list (stream-copy cut at 1.3 s of clean), vfr."""
    root = tmp_path_factory.mktemp('decode_clips')
    paths = {name: str(root / f'{name}.mp4') for name in ('clean', 'edit_list', 'vfr')}
    write_indexed_clip(paths['clean'])
    stream_copy_cut(paths['clean'], paths['edit_list'], start=1.3)
    write_indexed_clip(paths['vfr'], vfr=True)
    return {name: (path, reference_frames(path)) for name, path in paths.items()}


def _decode(backend, path, inds, mode='accurate'):
    init = TRANSFORMS.build(dict(type='VideoInit', backend=backend))
    results = init(dict(filename=path))
    results['frame_inds'] = np.asarray(inds)
    return TRANSFORMS.build(dict(type='VideoDecode', mode=mode))(results)


def _assert_frames(imgs, ref, inds):
    assert [frame_code(img) for img in imgs] == [frame_code(ref[i]) for i in inds]
    for img, i in zip(imgs, inds):
        np.testing.assert_array_equal(img, ref[i])  # measured identical (same H.264 decode)


@needs_torchcodec
@pytest.mark.parametrize('name', ['clean', 'edit_list', 'vfr'])
def test_torchcodec_gives_the_reference_frames(clips, name):
    path, ref = clips[name]
    n = len(ref)
    inds = [n - 1, 0, 5, 5, n // 2, 1, n - 1]  # unsorted, repeated: as overlapping test clips
    results = _decode('torchcodec', path, inds)
    assert results['total_frames'] == n  # the frames a player shows
    _assert_frames(results['imgs'], ref, inds)
    assert results['video_reader'] is None
    assert results['img_shape'] == results['original_shape'] == ref[0].shape[:2]
    if name == 'edit_list':
        assert frame_code(ref[0]) == 33  # the first frame at or after 1.3 s (25 fps)


@pytest.mark.parametrize('name', ['clean', 'vfr'])
def test_decord_gives_the_reference_frames_in_requested_order(clips, name):
    path, ref = clips[name]
    n = len(ref)
    inds = [n - 1, 0, 5, 5, n // 2, 1, n - 1]
    results = _decode('decord', path, inds)
    assert results['total_frames'] == n
    _assert_frames(results['imgs'], ref, inds)
    imgs = results['imgs']
    assert not np.shares_memory(imgs[2], imgs[3])  # in-place transforms touch each once


def test_decord_rejects_an_edit_list_mp4(clips):
    from bevt_mm.datasets.transforms import DecodeError
    path, ref = clips['edit_list']
    with pytest.raises(DecodeError, match=r'edit list.*hidden') as err:
        _decode('decord', path, [0])
    assert path in str(err.value) and "video_backend='torchcodec'" in str(err.value)


def _default_video_pipeline(config='configs/bevt/joint_swin_b.py'):
    """The open and decode steps of a paper config's video pipeline, built."""
    cfg = Config.fromfile(osp.join(REPO, config))
    steps = [t for t in cfg.video_pipeline if t['type'].endswith(('Init', 'Decode'))]
    assert len(steps) == 2, steps
    return [TRANSFORMS.build(t) for t in steps]


def test_default_config_gives_player_frames_of_an_edit_list_mp4(clips):
    """Issue: a stream-copied (edit-list) mp4 decoded by the paper config's pipeline gave
    shifted frames with decord, silently. Now: the frames a player shows (torchcodec), or,
    where only decord is there, a file fault the robust loader counts."""
    path, ref = clips['edit_list']
    init, decode = _default_video_pipeline()
    inds = np.arange(0, len(ref), 4)
    try:
        results = init(dict(filename=path))
    except RuntimeError as err:  # decord fall-back: the file is rejected, never misread
        assert not TORCHCODEC and 'edit list' in str(err)
        return
    assert results['total_frames'] == len(ref)
    results['frame_inds'] = inds
    _assert_frames(decode(results)['imgs'], ref, inds)


def test_robust_dataset_counts_an_edit_list_mp4_under_decord(clips, tmp_path):
    path, _ = clips['edit_list']
    good, ref = clips['clean']
    ann = tmp_path / 'list.txt'
    ann.write_text(f'{path}\n{good}\n')
    ds = DATASETS.build(dict(
        type='RobustVideoDataset', ann_file=str(ann), data_prefix=dict(video=''),
        pipeline=[dict(type='VideoInit', backend='decord'),
                  dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
                       test_mode=True),
                  dict(type='VideoDecode')]))
    np.random.seed(0)
    sample = ds[0]
    assert frame_code(sample['imgs'][0]) in range(len(ref))  # replaced by the clean clip
    assert set(ds.failed_paths) == {path} and ds.num_failed == len(ds.failed_paths) >= 1


@needs_torchcodec
@pytest.mark.parametrize('fault', ['truncated', 'audio_only', 'raw_h264', 'garbage', 'zero'])
def test_torchcodec_broken_files_are_counted_and_replaced(clips, tmp_path, fault):
    """torchcodec raises ValueError (audio only) or RuntimeError, or opens a truncated file
    with fewer frames: each is a DecodeError naming the file, counted and replaced."""
    import real_faults
    path = str(tmp_path / f'{fault}.mp4')
    if fault == 'garbage':
        with open(path, 'wb') as f:
            f.write(np.random.default_rng(0).bytes(4096))
    elif fault == 'zero':
        open(path, 'wb').close()
    else:
        dict(truncated=real_faults.write_truncated_mp4,
             audio_only=real_faults.write_audio_only_mp4,
             raw_h264=real_faults.write_raw_h264)[fault](path)
    good, ref = clips['clean']
    ann = tmp_path / 'list.txt'
    ann.write_text(f'{path}\n{good}\n')
    ds = DATASETS.build(dict(
        type='RobustVideoDataset', ann_file=str(ann), data_prefix=dict(video=''),
        pipeline=[dict(type='TorchCodecInit'),
                  dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1),
                  dict(type='TorchCodecDecode')]))
    np.random.seed(0)
    for _ in range(2):
        sample = ds[0]
        assert len(sample['imgs']) == 4 and frame_code(sample['imgs'][0]) < len(ref)
    assert list(ds.failure_counts) == [path] and ds.failure_counts[path] >= 2
    assert ds.num_failed == ds.failure_counts[path]


def test_auto_falls_back_to_decord_when_torchcodec_cannot_load(monkeypatch):
    """No torchcodec (an ImportError, as without the package): 'auto' decodes with decord
    and says so once; asking for 'torchcodec' explicitly is an error with the fix."""
    from bevt_mm.datasets.transforms import video_decode
    monkeypatch.setitem(sys.modules, 'torchcodec', None)
    monkeypatch.setattr(video_decode, '_fallback_logged', False)
    video_decode.torchcodec_status.cache_clear()
    try:
        assert video_decode.torchcodec_status()[0] is False
        assert TRANSFORMS.build(dict(type='VideoInit')).backend == 'decord'
        assert video_decode._fallback_logged
        with pytest.raises(ImportError, match='apt-get install libavcodec59'):
            TRANSFORMS.build(dict(type='VideoInit', backend='torchcodec'))
    finally:
        video_decode.torchcodec_status.cache_clear()
    monkeypatch.setenv(video_decode.BACKEND_ENV, 'decord')
    assert video_decode.resolve_video_backend('auto') == 'decord'
    with pytest.raises(ValueError, match='video_backend'):
        video_decode.resolve_video_backend('pyav')


def test_decoder_benchmark_tool_runs_on_a_real_clip(clips, load_tool, capsys):
    tool = load_tool('analysis/benchmark_decoders.py')
    decoders = ['decord', 'torchcodec'] if TORCHCODEC else ['decord', 'decord-sorted']
    rows = tool.main(['--no-synthetic', '--clips', clips['clean'][0], '--iters', '1',
                      '--warmup', '0', '--decoders', *decoders, '--patterns', 'k400-test'])
    assert [r['decoder'] for r in rows] == decoders and all(r['cpu_ms'] > 0 for r in rows)
    out = capsys.readouterr().out
    assert 'CPU vs decord' in out and 'identical frames from all decoders: k400-test yes' in out


# --- Containers without presentation times: AVI (XviD/DivX, UCF-101, HMDB-51) -------------

def _ffmpeg_encode(path, args, num_frames=60, fps=25):
    """Encode the frames of ``write_indexed_clip`` (frame ``i`` carries ``i``) with the
    ffmpeg binary of imageio-ffmpeg: ``ffmpeg -f rawvideo -i - ARGS path``."""
    import subprocess

    import imageio_ffmpeg
    from video_clips import HEIGHT, WIDTH, indexed_frames
    raw = [img.tobytes() for img in indexed_frames(num_frames)]
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-y', '-loglevel', 'error', '-f', 'rawvideo',
                    '-pix_fmt', 'rgb24', '-s', f'{WIDTH}x{HEIGHT}', '-r', str(fps), '-i', '-',
                    *args, path], input=b''.join(raw), check=True)


def _ffmpeg_has_encoder(name):
    import subprocess

    import imageio_ffmpeg
    out = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-encoders'],
                         capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines())


MPEG4_BF = ['-c:v', 'mpeg4', '-bf', '2', '-g', '12', '-q:v', '2']
H264_BF = ['-c:v', 'libx264', '-bf', '2', '-g', '12', '-pix_fmt', 'yuv420p']
#: name -> (file name, ffmpeg output arguments). ``xvid``: MPEG-4 Part 2 with 2 B-frames
#: in AVI as XviD writes it (one VOP per chunk); ``xvid_packed``: libxvid's DivX-style
#: packed bitstream (a P-VOP and a B-VOP in one chunk, then a 6-byte N-VOP placeholder);
#: ``h264_avi``: H.264 with B-frames in AVI; ``mpeg4_mkv``/``mpeg4_mp4``: MPEG-4 Part 2
#: with B-frames where the container has presentation times (decord's get_batch returned
#: wrong frames); ``mjpeg_avi`` and ``h264_mov``: controls.
AVI_KINDS = {
    'xvid': ('xvid.avi', MPEG4_BF + ['-vtag', 'XVID']),
    'xvid_packed': ('xvid_packed.avi', ['-c:v', 'libxvid', '-bf', '2', '-g', '12', '-q:v', '2']),
    'h264_avi': ('h264_bframes.avi', H264_BF),
    'mpeg4_mkv': ('mpeg4.mkv', MPEG4_BF),
    'mpeg4_mp4': ('mpeg4.mp4', MPEG4_BF),
    'mjpeg_avi': ('mjpeg.avi', ['-c:v', 'mjpeg', '-q:v', '2']),
    'h264_mov': ('h264_bframes.mov', H264_BF),
}
#: Files whose frame indices neither library gets right (the first group of pictures lost).
REFUSED_KINDS = {
    'h264_ts': ('h264.ts', H264_BF),
    'mpeg2_ps': ('mpeg2.mpg', ['-c:v', 'mpeg2video', '-bf', '2', '-g', '12', '-q:v', '2']),
}


@pytest.fixture(scope='module')
def avi_clips(tmp_path_factory):
    """The files of ``AVI_KINDS`` with their PyAV reference frames (a sequential decode)."""
    root = tmp_path_factory.mktemp('avi_clips')
    clips = {}
    for name, (fname, args) in {**AVI_KINDS, **REFUSED_KINDS}.items():
        if name == 'xvid_packed' and not _ffmpeg_has_encoder('libxvid'):
            continue
        path = str(root / fname)
        _ffmpeg_encode(path, args)
        clips[name] = (path, reference_frames(path))
    return clips


def _assert_player_frames(imgs, ref, inds):
    """Frame codes as the reference; pixels close (the decoders' FFmpeg builds may round
    MPEG-4 Part 2 IDCTs differently; a neighbouring frame differs by > 40 levels)."""
    assert [frame_code(img) for img in imgs] == [frame_code(ref[i]) for i in inds]
    for img, i in zip(imgs, inds):
        assert np.abs(img.astype(np.int16) - ref[i]).mean() < 2, i


@pytest.mark.parametrize('backend', [
    pytest.param('torchcodec', marks=needs_torchcodec), 'decord'])
@pytest.mark.parametrize('name', list(AVI_KINDS))
def test_avi_and_mov_give_the_frame_at_each_index_as_a_player_shows_it(avi_clips, backend, name):
    """Issue: XviD AVIs (no presentation times, B-frames) gave frames 0, 1, 3, 5 for indices
    0, 2, 4, 6 under torchcodec, and were refused as 'an mp4 edit list' under decord."""
    if name not in avi_clips:
        pytest.skip('the ffmpeg binary of imageio-ffmpeg has no libxvid encoder')
    path, ref = avi_clips[name]
    n = len(ref)
    inds = list(range(0, n, 2)) + [n - 1, 7, 3, 3, 0]
    results = _decode(backend, path, inds)
    assert results['total_frames'] == n
    _assert_player_frames(results['imgs'], ref, inds)


@pytest.mark.parametrize('backend', [
    pytest.param('torchcodec', marks=needs_torchcodec), 'decord'])
@pytest.mark.parametrize('name', list(REFUSED_KINDS))
def test_mpeg_program_and_transport_streams_are_refused_with_the_reason(avi_clips, backend,
                                                                       name):
    """Both libraries lost the first 12 frames (index 0 gave frame 12) where a player
    shows frame 0: the file is a DecodeError naming it, the reason and the fix."""
    from bevt_mm.datasets.transforms import DecodeError
    path, _ = avi_clips[name]
    with pytest.raises(DecodeError, match='MPEG program or transport stream') as err:
        _decode(backend, path, [0])
    assert path in str(err.value) and 'ffmpeg -i' in str(err.value)


# --- Order: the frames come back in the requested order, with and without repeats ---------

READERS = [pytest.param('torchcodec', 'clean', marks=needs_torchcodec, id='torchcodec-mp4'),
           pytest.param('decord', 'clean', id='decord-mp4'),
           pytest.param('torchcodec', 'xvid', marks=needs_torchcodec, id='torchcodec-xvid-avi'),
           pytest.param('decord', 'xvid', id='decord-xvid-avi')]


@pytest.mark.parametrize('backend,name', READERS)
@pytest.mark.parametrize('order', ['permutation', 'sorted', 'reversed', 'repeats'])
def test_frames_come_in_the_requested_order(clips, avi_clips, backend, name, order):
    """Every reader (torchcodec, decord, the sequential AVI reader) returns frame ``i`` of
    the request at position ``i``: permutations without repeats too (a decoder that returns
    such a request in sorted order fails here), and repeats as separate copies."""
    path, ref = {**clips, **avi_clips}[name]
    n = len(ref)
    inds = dict(permutation=[n - 1, 0, n // 2, 5, 1, 20],
                sorted=[0, 1, 5, 20, n // 2, n - 1],
                reversed=[n - 1, n // 2, 20, 5, 1, 0],
                repeats=[5, n - 1, 5, 0, n - 1, 1])[order]
    assert (len(set(inds)) < len(inds)) == (order == 'repeats')
    imgs = _decode(backend, path, inds)['imgs']
    assert [frame_code(img) for img in imgs] == [frame_code(ref[i]) for i in inds]
    assert len({id(img) for img in imgs}) == len(imgs)
    if order == 'repeats':
        assert not np.shares_memory(imgs[0], imgs[2]) and not np.shares_memory(imgs[1], imgs[4])


def test_sequential_reader_reopens_for_an_earlier_frame(avi_clips):
    """A second request that starts before the last decoded frame still gets its frames."""
    from bevt_mm.datasets.transforms.video_decode import SequentialReader, decode_frames
    path, ref = avi_clips['xvid']
    reader = SequentialReader(path, path)
    for inds in ([40, 10], [3, 41], [41]):
        assert [frame_code(f) for f in decode_frames(reader, inds)] == [
            frame_code(ref[i]) for i in inds]


# --- Drop-in for MMAction2's DecordInit/DecordDecode --------------------------------------
# The logic of mmaction2 1.2.0 tests/datasets/transforms/test_loading.py (test_decord_init,
# test_decord_decode) with VideoInit/VideoDecode, on a generated 340x256 30 fps clip in
# place of their tests/data/test.mp4 (reprs are ours).

BACKENDS_ = [pytest.param('torchcodec', marks=needs_torchcodec), 'decord']


@pytest.fixture(scope='module')
def mmaction_clip(tmp_path_factory):
    """A 340x256 30 fps H.264 mp4 of 12 frames, as the results dict of MMAction2's test."""
    import av
    path = str(tmp_path_factory.mktemp('mmaction_clip') / 'test.mp4')
    with av.open(path, mode='w') as container:
        stream = container.add_stream('libx264', rate=30)
        stream.width, stream.height, stream.pix_fmt = 340, 256, 'yuv420p'
        for t in range(12):
            img = np.full((256, 340, 3), 20 * t, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return dict(filename=path, label=1, total_frames=12, start_index=0)


@pytest.mark.parametrize('backend', BACKENDS_)
def test_video_init_as_decord_init(mmaction_clip, backend):
    from mmengine.testing import assert_dict_has_keys
    init = TRANSFORMS.build(dict(type='VideoInit', io_backend='disk', num_threads=1,
                                 backend=backend))
    results = init(dict(mmaction_clip))
    assert assert_dict_has_keys(results, ['video_reader', 'total_frames', 'avg_fps'])
    assert results['total_frames'] == len(results['video_reader']) == 12
    assert results['avg_fps'] == 30
    assert repr(init) == f'VideoInit(io_backend=disk, num_threads=1, backend={backend})'
    assert repr(TRANSFORMS.build(dict(type='VideoDecode'))) == 'VideoDecode(mode=accurate)'


@pytest.mark.parametrize('backend', BACKENDS_)
@pytest.mark.parametrize('mode', ['accurate', 'efficient'])
@pytest.mark.parametrize('two_dims', [True, False])
def test_video_decode_as_decord_decode(mmaction_clip, backend, mode, two_dims):
    from mmengine.testing import assert_dict_has_keys
    results = dict(mmaction_clip)
    inds = np.arange(0 if two_dims or mode == 'accurate' else 1, 5, 3)
    results['frame_inds'] = inds[:, np.newaxis] if two_dims else inds
    init = TRANSFORMS.build(dict(type='VideoInit', backend=backend))
    results['video_reader'] = init(dict(results))['video_reader']
    decode = TRANSFORMS.build(dict(type='VideoDecode', mode=mode))
    out = decode(results)
    assert assert_dict_has_keys(out, ['frame_inds', 'imgs', 'original_shape'])
    assert out['original_shape'] == (256, 340)
    assert np.shape(out['imgs']) == (len(inds), 256, 340, 3)
    assert repr(decode) == f'VideoDecode(mode={mode})'


@pytest.mark.parametrize('backend', BACKENDS_)
def test_efficient_mode_gives_keyframes(clips, avi_clips, backend):
    """mode='efficient' (DecordDecode's): the keyframe at or before each index (GOP 12);
    the sequential AVI reader stays accurate."""
    path, ref = clips['clean']
    inds = [13, 5, 30, 12]
    imgs = _decode(backend, path, inds, mode='efficient')['imgs']
    assert [frame_code(img) for img in imgs] == [12, 0, 24, 12]
    path, ref = avi_clips['xvid']
    imgs = _decode(backend, path, inds, mode='efficient')['imgs']
    assert [frame_code(img) for img in imgs] == [frame_code(ref[i]) for i in inds]
    with pytest.raises(ValueError, match='mode'):
        TRANSFORMS.build(dict(type='VideoDecode', mode='fast'))


def test_decord_names_missing_presentation_times_not_an_edit_list(avi_clips):
    """Opened by decord's seeking reader directly (as before the container check), an XviD
    AVI is refused for its missing presentation times (it was called 'an mp4 edit list')."""
    from bevt_mm.datasets.transforms import DecodeError
    from bevt_mm.datasets.transforms.video_decode import open_decord
    path, _ = avi_clips['xvid']
    with pytest.raises(DecodeError, match='no presentation time') as err:
        open_decord(path, path)
    assert path in str(err.value) and 'edit list' not in str(err.value)


@needs_torchcodec
def test_torchcodec_decode_leaves_torch_threads_as_it_found_them(clips):
    """The decode runs at one torch thread; the caller's count is back afterwards, also
    after a decode that raises."""
    path, ref = clips['clean']
    threads = torch.get_num_threads()
    other = 2 if threads == 1 else threads
    torch.set_num_threads(other)
    try:
        _assert_frames(_decode('torchcodec', path, [0, 5])['imgs'], ref, [0, 5])
        assert torch.get_num_threads() == other
        with pytest.raises(Exception):
            _decode('torchcodec', path, [10_000])
        assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(threads)
