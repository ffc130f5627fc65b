"""bevt_mm.evaluation.features: probe features of real broken files."""
import os.path as osp
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_probe_features_skip_unreadable_clips_and_count_them(tmp_path):
    """A probe set holding a real truncated download and an audio-only mp4: the readable
    clips give features (labels kept aligned), the bad files are left out and counted."""
    sys.path.insert(0, osp.join(REPO, 'tests', 'reliability'))
    from real_faults import write_audio_only_mp4, write_faststart_mp4, write_truncated_mp4

    from bevt_mm.evaluation.features import build_probe_loader, extract_features
    for i in range(3):
        write_faststart_mp4(str(tmp_path / f'good{i}.mp4'), num_frames=8, size=32, seed=i)
    write_truncated_mp4(str(tmp_path / 'truncated.mp4'), num_frames=32, size=32)
    write_audio_only_mp4(str(tmp_path / 'audio_only.mp4'))
    ann = tmp_path / 'list.txt'
    ann.write_text('good0.mp4 0\ntruncated.mp4 1\ngood1.mp4 2\naudio_only.mp4 3\ngood2.mp4 1\n')
    pipeline = [dict(type='DecordInit'),
                dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1,
                     test_mode=True),
                dict(type='DecordDecode'), dict(type='Resize', scale=(16, 16), keep_ratio=False),
                dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
    loader = build_probe_loader(dict(type='VideoDataset', ann_file=str(ann),
                                     data_prefix=dict(video=str(tmp_path)), pipeline=pipeline,
                                     test_mode=True), batch_size=2)

    def encode(batch):  # the clip's mean colour: a feature that needs the decoded frames
        return torch.stack([x.float().mean(dim=(1, 2, 3, 4)) for x in batch['inputs']])

    feats, labels = extract_features(encode, loader, progress=False)
    assert labels.tolist() == [0, 2, 1]
    assert feats.shape == (3, 1) and bool((feats > 0).all())
    assert loader.dataset.dataset.num_failed == 2
