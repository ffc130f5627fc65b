"""tools/analysis/frame_order.py: ordered vs shuffled masked-token accuracy of the video stream."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from bevt_mm.analysis.frame_order import video_pipeline
from bevt_mm.datasets.toy import make_video_set

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'bevt', 'toy_joint_swin.py')


@pytest.fixture(scope='module')
def temporal_64(tmp_path_factory):
    """4 toy-temporal videos (one per class), 16 frames of 64x64: (folder, list)."""
    root = str(tmp_path_factory.mktemp('frame_order'))
    lists = make_video_set(root, 'temporal', num_train=0, num_val=4, seed=0, size=64,
                           num_frames=16)
    return osp.join(root, 'temporal'), lists['val']


def _sample(pipeline, folder, ann, seed=0):
    from mmaction.registry import DATASETS
    ds = DATASETS.build(dict(type='VideoDataset', ann_file=ann, data_prefix=dict(video=folder),
                             pipeline=pipeline))
    np.random.seed(seed)
    return ds[0]


def test_shuffled_clips_keep_frames_masks_and_targets_and_change_only_the_order(temporal_64):
    folder, ann = temporal_64
    cfg = Config.fromfile(CONFIG)
    ordered = _sample(video_pipeline(cfg, shuffle=False), folder, ann)
    shuffled = _sample(video_pipeline(cfg, shuffle=True), folder, ann)
    assert [t['type'] for t in video_pipeline(cfg, True)][2:4] == ['SampleFrames', 'ShuffleFrames']
    a, b = ordered['inputs'], shuffled['inputs']  # (1, C, T, H, W) uint8 clips
    assert a.shape == b.shape and not torch.equal(a, b)
    t = a.shape[-3]
    frames_a = [a[..., i, :, :] for i in range(t)]
    frames_b = [b[..., i, :, :] for i in range(t)]
    perm = [next(j for j in range(t) if torch.equal(fb, frames_a[j])) for fb in frames_b]
    assert sorted(perm) == list(range(t)) and perm != list(range(t))  # same frames, new order
    sa, sb = ordered['data_samples'], shuffled['data_samples']
    assert torch.equal(torch.as_tensor(sa.mask), torch.as_tensor(sb.mask))  # same tube mask
    ta, tb = torch.as_tensor(sa.tokenizer_inputs), torch.as_tensor(sb.tokenizer_inputs)
    assert torch.equal(tb, ta[:, perm]) or torch.equal(tb, ta[perm])  # targets follow the frames


def test_cli_reports_both_accuracies_and_their_gap(temporal_64, random_toy_tokenizer, tmp_path,
                                                   capsys, load_tool):
    folder, ann = temporal_64
    tool = load_tool('analysis/frame_order.py')
    out = str(tmp_path / 'gap.json')
    result = tool.main([CONFIG, '--ann-file', ann, '--data-prefix', folder, '--out', out,
                        '--cfg-options', f'model.target_generator.checkpoint={random_toy_tokenizer}'])
    for name in ('ordered', 'shuffled'):
        assert result[name]['num_clips'] == 4
        assert 0 <= result[name]['acc'] <= 100 and result[name]['loss'] > 0
    assert result['gap'] == pytest.approx(result['ordered']['acc'] - result['shuffled']['acc'])
    assert result['ordered']['loss'] != result['shuffled']['loss']  # the order reached the model
    with open(out) as f:
        assert json.load(f)['gap'] == pytest.approx(result['gap'])
    text = capsys.readouterr().out
    assert 'ordered' in text and 'shuffled' in text and 'gap' in text
