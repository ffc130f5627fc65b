"""tools/analysis/frame_order.py: ordered vs shuffled masked-token accuracy of the video stream."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from bevt_mm.analysis.frame_order import video_pipeline

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs', 'toy', 'toy_joint_swin.py')


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
    tokenizer = f'model.target_generator.checkpoint={random_toy_tokenizer}'
    np.random.seed(123)
    numpy_state = np.random.get_state()[1].copy()
    result = tool.main([CONFIG, '--ann-file', ann, '--data-prefix', folder, '--out', out,
                        '--cfg-options', tokenizer])
    assert np.array_equal(np.random.get_state()[1], numpy_state)  # the masks' seeding is undone
    for name in ('ordered', 'shuffled', 'context_swapped'):
        assert result[name]['num_clips'] == 4
        assert 0 <= result[name]['acc'] <= 100 and result[name]['loss'] > 0
    assert result['gap'] == pytest.approx(result['ordered']['acc'] - result['shuffled']['acc'])
    assert result['ordered']['loss'] != result['shuffled']['loss']  # the order reached the model
    assert result['context_gap'] == pytest.approx(result['ordered']['acc']
                                                  - result['context_swapped']['acc'])
    assert result['ordered']['loss'] != result['context_swapped']['loss']  # so did the swap
    base = result['baselines']
    assert base['num_tokens'] > 0
    assert 0 < base['most_common_code'] <= 100 and 0 <= base['nearest_unmasked_frame'] <= 100
    with open(out) as f:
        saved = json.load(f)
    assert saved['gap'] == pytest.approx(result['gap'])
    assert (saved['config'], saved['checkpoint'], saved['ann_file'], saved['seed']) == (
        CONFIG, None, ann, 0)
    text = capsys.readouterr().out
    assert all(word in text for word in ('ordered', 'shuffled', 'context swapped', 'gap',
                                         'most common code', 'nearest unmasked frame'))


def test_swap_context_frames_replaces_only_frames_without_a_masked_token():
    from bevt_mm.analysis.frame_order import swap_context_frames
    clips = torch.arange(3 * 4, dtype=torch.float32).reshape(3, 1, 4, 1, 1).expand(3, 2, 4, 2, 2)
    mask = torch.zeros(3, 4, 2, 2, dtype=torch.bool)
    mask[0, :2, 0, 0] = True  # clip 0: frames 0, 1 masked
    mask[1, 3, 1, 1] = True  # clip 1: frame 3 masked
    out = swap_context_frames(clips, mask)  # clip 2: no masked frame, all from clip 0
    frame_values = out[:, 0, :, 0, 0].tolist()
    assert frame_values == [[0, 1, 6, 7], [8, 9, 10, 7], [0, 1, 2, 3]]
    assert torch.equal(out[:, 0], out[:, 1])  # whole frames, every channel
    with pytest.raises(ValueError, match='at least 2 clips'):
        swap_context_frames(clips[:1], mask[:1])


def test_copy_counts_match_a_loop_over_tokens():
    from bevt_mm.analysis.frame_order import copy_counts, nearest_context_frame
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 3, (6, 8, 2, 2), generator=gen)  # few codes: copies often match
    frames = torch.rand(6, 8, generator=gen) < 0.6
    frames[5] = True  # a clip without an unmasked frame: every copy is a miss
    mask = frames[..., None, None] & (torch.rand(6, 8, 2, 2, generator=gen) < 0.7)
    mask[5] |= True
    hits, hist = copy_counts(ids, mask)
    nearest = nearest_context_frame(mask)
    assert nearest[5].tolist() == [-1] * 8
    want_hits, want_hist = 0, [0, 0, 0]
    for n, t, i, j in zip(*torch.nonzero(mask, as_tuple=True)):
        want_hist[ids[n, t, i, j]] += 1
        free = [u for u in range(8) if not mask[n, u].any()]
        if free:
            u = min(free, key=lambda u: (abs(u - int(t)), u))
            assert int(nearest[n, t]) == u
            want_hits += int(ids[n, u, i, j] == ids[n, t, i, j])
    assert hits == want_hits > 0 and hist.tolist() == want_hist
