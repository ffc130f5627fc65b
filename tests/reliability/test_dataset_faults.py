"""Dataset faults that stopped or silently skewed fine-tuning runs.

Real instances: lists saved on Windows (UTF-8 BOM + CRLF bytes, `\\` separators), file names
with spaces, an AV1 mp4 (decord 0.6.0 has no AV1 decoder), a missing file, a 1-based label list
(under tools/ and under a Runner built from the config), macOS AppleDouble files and Jupyter
checkpoint folders in an image folder.
"""
import codecs
import copy
import logging
import os.path as osp
import sys

import av
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from mmaction.registry import DATASETS

from experiment_names import experiment_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'configs'))
DIVING48 = osp.join(ROOT, 'configs', 'bevt', 'finetune_swin_b_diving48.py')

CLIP = 4
PIPELINE = [dict(type='DecordInit'),
            dict(type='SampleFrames', clip_len=CLIP, frame_interval=1, num_clips=1),
            dict(type='DecordDecode')]
WINDOWS = codecs.BOM_UTF8  # what Notepad and many Windows tools write first


def _frames(num: int, size: int, seed: int) -> np.ndarray:
    base = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return np.stack([np.roll(base, 3 * t, axis=1) for t in range(num)])


def write_video(path: str, codec: str = 'libx264', num: int = 16, size: int = 64,
                seed: int = 0) -> str:
    """An mp4 of ``num`` moving frames (``libsvtav1``: AV1, which decord 0.6.0 cannot open)."""
    with av.open(path, mode='w') as container:
        stream = container.add_stream(codec, rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = 'yuv420p'
        for frame in _frames(num, size, seed):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_list(path, lines, bom: bytes = WINDOWS, newline: bytes = b'\r\n') -> str:
    path = str(path)
    with open(path, 'wb') as f:
        f.write(bom + b''.join(line.encode('utf-8') + newline for line in lines))
    return path


class _Lines(logging.Handler):

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('fault_videos')
    for i in range(4):
        write_video(str(root / f'v{i}.mp4'), seed=i)
    return str(root)


# ---------------------------------------------------------------- BOM + CRLF lists
@pytest.mark.parametrize('encoding', ['utf-8-bom-crlf', 'utf-16-notepad', 'cat-joined'])
def test_windows_video_list_reads_its_first_path(videos, tmp_path, encoding):
    """A list saved on Windows: the first path was read as '\\ufeffv0.mp4' (a "missing" file,
    silently replaced in training)."""
    lines = [f'v{i}.mp4 {i}' for i in range(4)]
    ann = str(tmp_path / 'list.txt')
    if encoding == 'utf-8-bom-crlf':
        write_list(ann, lines)
    elif encoding == 'utf-16-notepad':  # Notepad's "Unicode": UTF-16 LE with a BOM
        with open(ann, 'wb') as f:
            f.write(codecs.BOM_UTF16_LE + ''.join(x + '\r\n' for x in lines).encode('utf-16-le'))
    else:  # two Windows lists joined with `cat`: a BOM at the start of line 3
        with open(ann, 'wb') as f:
            f.write(open(write_list(tmp_path / 'a.txt', lines[:2]), 'rb').read()
                    + open(write_list(tmp_path / 'b.txt', lines[2:]), 'rb').read())
    ds = DATASETS.build(dict(type='RobustVideoDataset', ann_file=ann,
                             data_prefix=dict(video=videos), pipeline=PIPELINE))
    assert [ds.get_data_info(i)['filename'] for i in range(len(ds))] == [
        osp.join(videos, f'v{i}.mp4') for i in range(4)]
    assert [ds.get_data_info(i)['label'] for i in range(len(ds))] == [0, 1, 2, 3]
    for i in range(len(ds)):
        assert len(ds[i]['imgs']) == CLIP
    assert ds.num_failed == 0


def test_windows_lists_of_every_reader(videos, tmp_path):
    """Image lists, multi-label video lists and probe lists read the same bytes right."""
    from bevt_mm.evaluation import build_probe_loader
    img_root = tmp_path / 'images'
    img_root.mkdir()
    for i in range(2):
        Image.fromarray(_frames(1, 32, i)[0]).save(img_root / f'im {i}.JPEG')
    images = DATASETS.build(dict(
        type='ImageListDataset', ann_file=write_list(tmp_path / 'img.txt',
                                                     ['im 0.JPEG 0', 'im 1.JPEG 1']),
        data_prefix=dict(img=str(img_root)), pipeline=[dict(type='LoadImageAsClip')]))
    assert images.get_data_info(0)['img_path'] == str(img_root / 'im 0.JPEG')
    assert images[0]['imgs'][0].shape == (32, 32, 3) and images.num_failed == 0

    multi = DATASETS.build(dict(
        type='RobustVideoDataset', multi_class=True, num_classes=4,
        ann_file=write_list(tmp_path / 'multi.txt', ['v0.mp4 0 2', 'v1.mp4 3']),
        data_prefix=dict(video=videos), pipeline=PIPELINE))
    assert multi.get_data_info(0)['filename'] == osp.join(videos, 'v0.mp4')
    assert multi.get_data_info(0)['label'].tolist() == [1, 0, 1, 0]

    probe_pipeline = PIPELINE + [dict(type='FormatShape', input_format='NCTHW'),
                                 dict(type='PackActionInputs')]
    loader = build_probe_loader(dict(
        type='VideoDataset', ann_file=write_list(tmp_path / 'probe.txt',
                                                 [f'v{i}.mp4 {i}' for i in range(4)]),
        data_prefix=dict(video=videos), pipeline=probe_pipeline, test_mode=True), batch_size=4)
    batch, = list(loader)
    assert len(batch['inputs']) == 4 and loader.dataset.dataset.num_failed == 0


# ---------------------------------------------------------------- file names with spaces
@pytest.fixture(scope='module')
def spaced(tmp_path_factory):
    """Phone/download-tool names: 'drinking (31).mp4', 'my clip 2.mp4', 'photo (4).JPEG'."""
    root = tmp_path_factory.mktemp('spaced')
    names = ['drinking (31).mp4', 'my clip 2.mp4']
    for i, name in enumerate(names):
        write_video(str(root / name), seed=i)
    Image.fromarray(_frames(1, 32, 0)[0]).save(root / 'photo (4).JPEG')
    return str(root), names


def test_names_with_spaces_are_read_by_every_list_reader(spaced, tmp_path):
    """'drinking (31).mp4 0' stopped the labelled list ("3 fields") and the unlabelled
    pretraining list ("label '(31).mp4' is not an integer"): a labelled line splits at its
    last whitespace, an unlabelled one is a path."""
    from bevt_mm.evaluation import build_probe_loader
    root, names = spaced
    paths = [osp.join(root, n) for n in names]

    def video_list(lines, **kw):
        ds = DATASETS.build(dict(type='RobustVideoDataset', data_prefix=dict(video=root),
                                 ann_file=write_list(tmp_path / 'v.txt', lines),
                                 pipeline=PIPELINE, **kw))
        rows = [ds.get_data_info(i) for i in range(len(ds))]
        assert all(len(ds[i]['imgs']) == CLIP for i in range(len(ds))) and ds.num_failed == 0
        return [(r['filename'], r['label']) for r in rows]

    assert video_list([f'{n} {i}' for i, n in enumerate(names)]) == [(paths[0], 0), (paths[1], 1)]
    assert video_list([f'{n}\t1' for n in names]) == [(paths[0], 1), (paths[1], 1)]
    assert video_list(names) == [(paths[0], -1), (paths[1], -1)]  # pretraining list
    multi = video_list([f'{names[0]} 0 2', f'{names[1]} 3'], multi_class=True, num_classes=4)
    assert [(p, lab.tolist()) for p, lab in multi] == [(paths[0], [1, 0, 1, 0]),
                                                       (paths[1], [0, 0, 0, 1])]
    for with_label, line, label in ((True, 'photo (4).JPEG 3', 3), (False, 'photo (4).JPEG', -1)):
        images = DATASETS.build(dict(type='ImageListDataset', with_label=with_label,
                                     ann_file=write_list(tmp_path / 'i.txt', [line]),
                                     data_prefix=dict(img=root),
                                     pipeline=[dict(type='LoadImageAsClip')]))
        assert images.get_data_info(0)['img_path'] == osp.join(root, 'photo (4).JPEG')
        assert images.get_data_info(0)['gt_label'] == label
        assert images[0]['imgs'][0].shape == (32, 32, 3) and images.num_failed == 0
    loader = build_probe_loader(dict(  # probe lists (tools/analysis/probe.py, ProbeHook)
        type='VideoDataset', ann_file=write_list(tmp_path / 'p.txt', [f'{names[0]} 0']),
        data_prefix=dict(video=root), test_mode=True,
        pipeline=PIPELINE + [dict(type='FormatShape', input_format='NCTHW'),
                             dict(type='PackActionInputs')]), batch_size=1)
    batch, = list(loader)
    assert len(batch['inputs']) == 1 and loader.dataset.dataset.num_failed == 0


@pytest.mark.parametrize('kind', ['video', 'image'])
@pytest.mark.parametrize('lines,problem', [
    (['a b.mp4 0', 'c d.mp4 1 2'], '4 fields'),  # an extra integer column (rawframe list?)
    (['a b.mp4 0', 'c.mp4 cat'], "label 'cat' is not an integer"),
    (['a b.mp4 0', 'c d.mp4'], 'no label, unlike line 1'),
])
def test_names_with_spaces_keep_format_errors(tmp_path, kind, lines, problem):
    """Spaces in names do not hide a malformed line."""
    from bevt_mm.datasets.ann_list import AnnotationFormatError
    cfg = (dict(type='RobustVideoDataset', data_prefix=dict(video=str(tmp_path)))
           if kind == 'video' else dict(type='ImageListDataset', data_prefix=dict(img='')))
    with pytest.raises(AnnotationFormatError, match='line 2: .*' + problem):
        DATASETS.build(dict(cfg, ann_file=write_list(tmp_path / 'l.txt', lines), pipeline=[]))


# ---------------------------------------------------------------- lists with `\` separators
def test_windows_separators_are_read_as_meant(videos, tmp_path):
    """'train\\abseiling\\v0.mp4 0' (a list written on Windows) was accepted, then every
    sample "did not exist" and training stopped at the first batch."""
    import shutil

    from mmengine.logging import MMLogger
    root = tmp_path / 'k400'
    for i in range(2):
        (root / 'train' / f'class{i}').mkdir(parents=True)
        shutil.copy(osp.join(videos, f'v{i}.mp4'), root / 'train' / f'class{i}' / f'v{i}.mp4')
        Image.fromarray(_frames(1, 32, i)[0]).save(root / 'train' / f'class{i}' / 'im.JPEG')
    logger = MMLogger.get_instance('bevt_windows_separators')
    lines = _Lines()
    logger.addHandler(lines)
    try:
        videos_ds = DATASETS.build(dict(
            type='RobustVideoDataset', data_prefix=dict(video=str(root)), pipeline=PIPELINE,
            ann_file=write_list(tmp_path / 'train.txt',
                                [f'train\\class{i}\\v{i}.mp4 {i}' for i in range(2)])))
        images = DATASETS.build(dict(
            type='ImageListDataset', data_prefix=dict(img=str(root)), with_label=False,
            pipeline=[dict(type='LoadImageAsClip')],
            ann_file=write_list(tmp_path / 'img.txt', [f'train\\class{i}\\im.JPEG'
                                                        for i in range(2)])))
    finally:
        logger.removeHandler(lines)
    assert [videos_ds.get_data_info(i)['filename'] for i in range(2)] == [
        str(root / 'train' / f'class{i}' / f'v{i}.mp4') for i in range(2)]
    assert [images.get_data_info(i)['img_path'] for i in range(2)] == [
        str(root / 'train' / f'class{i}' / 'im.JPEG') for i in range(2)]
    for i in range(2):
        assert len(videos_ds[i]['imgs']) == CLIP and images[i]['imgs'][0].shape == (32, 32, 3)
    assert videos_ds.num_failed == 0 and images.num_failed == 0
    # once per list, naming it
    assert len(lines.lines) == 2, lines.lines
    assert 'train.txt' in lines.lines[0] and '\\' in lines.lines[0] and '/' in lines.lines[0]
    assert 'img.txt' in lines.lines[1]


# ---------------------------------------------------------------- labels out of range
def test_one_based_labels_fail_when_the_dataset_is_built(videos, tmp_path):
    """Diving48-style list numbered 1..N with num_classes N: it used to build, and the first
    batch holding label N crashed (a device-side assert on GPU)."""
    ann = write_list(tmp_path / 'diving.txt', [f'v{i}.mp4 {i + 1}' for i in range(4)], bom=b'',
                     newline=b'\n')
    with pytest.raises(ValueError) as err:
        DATASETS.build(dict(type='RobustVideoDataset', ann_file=ann, num_classes=4,
                            data_prefix=dict(video=videos), pipeline=PIPELINE))
    text = str(err.value)
    for part in (ann, 'line 4', "'v3.mp4 4'", 'label 4', 'num_classes=4', '0..3', '1-based'):
        assert part in text, (part, text)
    # what the head would do with label 4 of 4 classes: the crash the check prevents
    with pytest.raises(IndexError):
        torch.nn.functional.cross_entropy(torch.zeros(1, 4), torch.tensor([4]))


def test_finetune_configs_give_their_datasets_the_heads_num_classes(videos, tmp_path):
    """The Diving48 config (48 classes) gives its datasets num_classes=48, so they refuse a
    1..48 list; tools/train.py and tools/test.py make them follow a head overridden alone."""
    from bevt_mm.datasets.config_utils import set_num_classes_from_head
    cfg = Config.fromfile(DIVING48)
    assert {ds.num_classes for ds in (cfg.train_dataloader.dataset, cfg.val_dataloader.dataset,
                                      cfg.test_dataloader.dataset)} == {48}
    overridden = copy.deepcopy(cfg)
    overridden.merge_from_dict({'model.cls_head.num_classes': 10})  # --cfg-options
    set_num_classes_from_head(overridden)
    assert overridden.train_dataloader.dataset.num_classes == 10
    assert overridden.test_dataloader.dataset.num_classes == 10
    set_num_classes_from_head(cfg)
    ann = write_list(tmp_path / 'val.txt', [f'v{i % 4}.mp4 {i + 1}' for i in range(48)])
    ds_cfg = dict(cfg.val_dataloader.dataset, ann_file=ann, data_prefix=dict(video=videos))
    assert ds_cfg['num_classes'] == 48
    with pytest.raises(ValueError, match=r'line 48: .*label 48 is outside 0\.\.47.*1-based'):
        DATASETS.build(ds_cfg)
    cfg.val_dataloader.dataset.num_classes = 174
    with pytest.raises(ValueError, match='val_dataloader.dataset.num_classes=174 but '
                                         'model.cls_head.num_classes=48'):
        set_num_classes_from_head(cfg)



def _diving48_runner_cfg(videos, tmp_path, train_labels):
    """The Diving48 fine-tuning config, shrunk, built as `mim train mmaction2` builds it."""
    from config_shrink import shrink_recognizer_config
    train = write_list(tmp_path / 'train.txt',
                       [f'v{i}.mp4 {label}' for i, label in enumerate(train_labels)])
    val = write_list(tmp_path / 'val.txt', [f'v{i}.mp4 {i}' for i in range(4)])
    cfg = shrink_recognizer_config(Config.fromfile(DIVING48),
                                   dict(train=train, val=val, root=videos),
                                   str(tmp_path / 'work'))
    cfg.experiment_name = experiment_name('diving48')
    return cfg


@pytest.mark.slow
def test_a_runner_built_from_the_config_refuses_a_one_based_list(videos, tmp_path):
    """No tools/: a 1..48 Diving48 list was accepted and the first batch holding label 48
    crashed in the loss (IndexError on CPU, a device-side assert on GPU)."""
    from bevt_mm.datasets.ann_list import LabelRangeError
    cfg = _diving48_runner_cfg(videos, tmp_path, [1, 16, 32, 48])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(LabelRangeError, match=r'train\.txt, line 4: .*label 48 is outside '
                                              r'0\.\.47 .*1-based'):
        runner.train()
    assert not osp.exists(osp.join(cfg.work_dir, 'epoch_1.pth'))


@pytest.mark.slow
def test_a_head_overridden_alone_does_not_leave_a_stale_dataset_check(videos, tmp_path):
    """model.cls_head.num_classes changed alone (mim's --cfg-options, or in Python) leaves the
    datasets' check at 48: labels 3.. passed it and crashed the loss of a 3-class head. Now a
    Runner stops before the first iteration naming the list and both settings; lists that fit
    the head are read with its count; tools/train.py makes the datasets follow the head."""
    from bevt_mm.datasets.ann_list import LabelRangeError
    from bevt_mm.datasets.config_utils import set_num_classes_from_head
    from bevt_mm.engine.hooks import NumClassesCheckHook
    cfg = _diving48_runner_cfg(videos, tmp_path, [0, 1, 2, 3])
    cfg.model.cls_head.num_classes = 3
    stale = (r'train\.txt: label 3 of .*v3\.mp4 is outside 0\.\.2 \(model\.cls_head\.'
             r'num_classes=3; 1 labels .*train_dataloader\.dataset\.num_classes=48')
    with pytest.raises(LabelRangeError, match=stale):
        Runner.from_cfg(cfg).train()
    tools_cfg = copy.deepcopy(cfg)
    set_num_classes_from_head(tools_cfg)  # tools/train.py, after --cfg-options
    assert tools_cfg.train_dataloader.dataset.num_classes == 3
    tools_cfg.experiment_name = experiment_name('diving48_tools')
    with pytest.raises(LabelRangeError, match=r'line 4: .*label 3 is outside 0\.\.2'):
        Runner.from_cfg(tools_cfg).train()  # when the list is read, naming the line
    cfg.model.cls_head.num_classes = 4
    cfg.experiment_name = experiment_name('diving48_fits')
    runner = Runner.from_cfg(cfg)
    NumClassesCheckHook()._check(runner, 'train_dataloader')
    assert runner.train_dataloader.dataset.num_classes == 4

# ---------------------------------------------------------------- hidden files
def test_image_folder_skips_hidden_files_and_folders(tmp_path):
    """macOS AppleDouble '._*.JPEG' files, '.ipynb_checkpoints', '.DS_Store' and '__MACOSX'
    were samples (unreadable) and classes (shifting every label)."""
    root = tmp_path / 'train'
    apple_double = b'\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ' + bytes(64)
    for label, cls in enumerate(['n01', 'n02']):
        (root / cls).mkdir(parents=True)
        Image.fromarray(_frames(1, 24, label)[0]).save(root / cls / 'a.JPEG')
        (root / cls / '._a.JPEG').write_bytes(apple_double)
        (root / cls / '.ipynb_checkpoints').mkdir()
        Image.fromarray(_frames(1, 24, 9)[0]).save(root / cls / '.ipynb_checkpoints' / 'b.JPEG')
    (root / '.ipynb_checkpoints').mkdir()
    Image.fromarray(_frames(1, 24, 7)[0]).save(root / '.ipynb_checkpoints' / 'c-checkpoint.JPEG')
    (root / '__MACOSX' / 'n01').mkdir(parents=True)
    (root / '__MACOSX' / 'n01' / '._a.JPEG').write_bytes(apple_double)
    (root / '.DS_Store').write_bytes(b'\x00\x00\x00\x01Bud1' + bytes(32))
    ds = DATASETS.build(dict(type='ImageListDataset', ann_file='', data_prefix=dict(img=str(root)),
                             pipeline=[dict(type='LoadImageAsClip')]))
    assert [(ds.get_data_info(i)['img_path'], ds.get_data_info(i)['gt_label'])
            for i in range(len(ds))] == [(str(root / 'n01' / 'a.JPEG'), 0),
                                         (str(root / 'n02' / 'a.JPEG'), 1)]
    for i in range(len(ds)):
        assert ds[i]['imgs'][0].shape == (24, 24, 3)
    assert ds.num_failed == 0


# ---------------------------------------------------------------- fine-tuning run
@pytest.fixture(scope='module')
def av1_video(videos):
    try:
        path = write_video(osp.join(videos, 'av1.mp4'), codec='libsvtav1', seed=5)
    except Exception as err:  # an av build without an AV1 encoder
        pytest.skip(f'no AV1 encoder in PyAV: {err}')
    import decord
    with pytest.raises(decord.DECORDError):  # the real fault: decord 0.6.0 cannot open it
        decord.VideoReader(path)
    return path


def test_finetune_run_survives_unreadable_videos_and_reports_them_in_val_and_test(
        videos, av1_video, tmp_path):
    """The K400 fine-tuning config, shrunk, with Windows lists holding an AV1 file, a missing
    file and a file of random bytes: training replaces and counts the unreadable ones; val and
    test leave them out of the metric with a line naming them, and the metric equals the one
    over the readable videos alone."""
    from config_shrink import shrink_recognizer_config
    garbage = osp.join(videos, 'garbage.mp4')
    with open(garbage, 'wb') as f:
        f.write(np.random.default_rng(0).bytes(4096))
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'bevt', 'finetune_swin_b_k400.py'))
    # AV1 is unreadable where the config decodes with decord 0.6.0 (no AV1 decoder)
    from bevt_mm.datasets.transforms.video_decode import resolve_video_backend
    opener = cfg.test_dataloader.dataset.pipeline[0]
    with_decord = (opener['type'] == 'DecordInit'
                   or resolve_video_backend(opener.get('backend', 'auto')) == 'decord')
    good = [f'v{i}.mp4 {i}' for i in range(4)]
    bad = ['av1.mp4 1', 'missing.mp4 2', 'garbage.mp4 3']
    unreadable = [n.split()[0] for n in bad if with_decord or not n.startswith('av1')]
    train = write_list(tmp_path / 'train.txt', bad[:1] + good + bad[1:])
    val = write_list(tmp_path / 'val.txt', good[:2] + bad + good[2:])
    clean = write_list(tmp_path / 'clean.txt',
                       good + ([] if with_decord else ['av1.mp4 1']))
    cfg = shrink_recognizer_config(cfg, dict(train=train, val=val, root=videos),
                                   str(tmp_path / 'work'), num_classes=4)
    cfg.randomness = dict(seed=0)
    cfg.experiment_name = experiment_name('dataset_faults')
    runner = Runner.from_cfg(cfg)
    lines = _Lines()
    runner.logger.addHandler(lines)
    try:
        runner.train()  # 1 epoch + validation; stopped at the first bad file before
        trainset = runner.train_dataloader.dataset
        assert set(trainset.failed_paths) == {osp.join(videos, n) for n in unreadable}
        assert trainset.num_failed >= len(unreadable)
        report = (f'RobustEvaluator: {len(unreadable)} of 7 samples unreadable, left out of '
                  f'the metrics (computed over the other {7 - len(unreadable)}): '
                  + ', '.join(f'{videos}/{n}' for n in unreadable))
        assert lines.lines.count(report) == 1, lines.lines  # after the val epoch
        metrics = runner.test()
        assert lines.lines.count(report) == 2
    finally:
        runner.logger.removeHandler(lines)
    if with_decord:
        assert any('DECORDError' in x and 'av1.mp4' in x for x in lines.lines)
    assert any('missing.mp4' in x and 'does not exist' in x for x in lines.lines)

    cfg_clean = cfg.copy()
    cfg_clean.test_dataloader.dataset.ann_file = clean
    cfg_clean.work_dir = str(tmp_path / 'clean')
    cfg_clean.load_from = osp.join(cfg.work_dir, 'epoch_1.pth')
    cfg_clean.experiment_name = experiment_name('dataset_faults_clean')
    assert Runner.from_cfg(cfg_clean).test() == metrics


def test_dump_goes_into_the_robust_evaluator(tmp_path):
    """tools/test.py --dump adds DumpResults to RobustEvaluator's metrics (a list of an
    Evaluator config and a metric would not build)."""
    from argparse import Namespace

    from bevt_mm.engine import merge_test_args
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'bevt', 'finetune_swin_b_k400.py'))
    args = Namespace(dump=str(tmp_path / 'out.pkl'), launcher='none', cfg_options=None,
                     config='finetune_swin_b_k400.py', work_dir=str(tmp_path), checkpoint=None)
    cfg = merge_test_args(cfg, args)
    assert cfg.test_evaluator.type == 'RobustEvaluator'
    assert [m['type'] for m in cfg.test_evaluator.metrics] == ['AccMetric', 'DumpResults']
    assert cfg.val_evaluator.metrics == dict(type='AccMetric')
    assert cfg.test_dataloader.dataset.num_classes == 400


def _rank_main(rank, world, port, ann, videos, out):
    """One rank of the distributed evaluation: DefaultSampler's share, a fixed 'prediction'."""
    import os

    import torch.distributed as dist
    from mmengine.dataset import DefaultSampler
    from mmengine.registry import init_default_scope

    import bevt_mm  # noqa: F401
    from mmaction.registry import EVALUATOR
    os.chdir(osp.dirname(out))  # collect_results writes .dist_test/ in the working directory
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    init_default_scope('mmaction')
    ds = DATASETS.build(dict(type='RobustVideoDataset', ann_file=ann, test_mode=True,
                             data_prefix=dict(video=videos), num_classes=4,
                             pipeline=PIPELINE + [dict(type='PackActionInputs')]))
    evaluator = EVALUATOR.build(dict(type='RobustEvaluator', metrics=dict(type='AccMetric')))
    for idx in DefaultSampler(ds, shuffle=False):  # padded to equal shares
        sample = ds[idx]['data_samples']
        label = int(sample.gt_label)
        sample.set_pred_score(torch.eye(4)[label if label < 2 else (label + 1) % 4])
        evaluator.process([sample])
    metrics = evaluator.evaluate(len(ds))
    if rank == 0:
        torch.save(metrics, out)
    dist.destroy_process_group()


def test_distributed_evaluation_leaves_out_exactly_the_unreadable_samples(
        videos, av1_video, tmp_path):
    """2 gloo processes, 7 samples (the sampler pads to 8), 2 unreadable: the metric over the
    other 5 equals the 1-process metric over the readable list."""
    import socket

    import torch.multiprocessing as mp
    from mmaction.evaluation import AccMetric
    lines = ['v0.mp4 0', 'v1.mp4 1', 'av1.mp4 1', 'missing.mp4 0', 'v2.mp4 2', 'v3.mp4 3',
             'v0.mp4 0']
    ann = write_list(tmp_path / 'val.txt', lines)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = str(tmp_path / 'metrics.pt')
    mp.spawn(_rank_main, args=(2, port, ann, videos, out), nprocs=2)
    readable = [int(x.split()[1]) for x in lines if x.split()[0] in {f'v{i}.mp4' for i in range(4)}]
    metric = AccMetric()
    metric.results = [dict(pred=np.eye(4)[y if y < 2 else (y + 1) % 4], label=y) for y in readable]
    expected = {f'acc/{k}': v for k, v in metric.compute_metrics(metric.results).items()}
    assert torch.load(out, weights_only=False) == expected
    assert expected['acc/top1'] == pytest.approx(3 / 5)
