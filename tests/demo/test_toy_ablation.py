"""demo/toy_ablation.py end to end at a tiny size (4 variants, 1 seed, 2 updates)."""
import json
import os.path as osp

import pytest
from PIL import Image


@pytest.fixture(scope='module')
def tiny_toy(tmp_path_factory, random_toy_tokenizer):
    """Toy data (8 train / 4 val videos per set, 16 images) and random toy-tokenizer weights."""
    from bevt_mm.testing.toy_data import make_toy_data
    root = tmp_path_factory.mktemp('ablation')
    make_toy_data(str(root / 'data'), num_images=(16, 0), num_spatial=(8, 4),
                  num_temporal=(8, 4), photo_fraction=0.0)
    return root, random_toy_tokenizer


@pytest.mark.slow
def test_toy_ablation_runs_every_variant_and_writes_table_and_plot(tiny_toy, load_tool):
    root, tokenizer = tiny_toy
    work = str(root / 'work')
    tool = load_tool('demo/toy_ablation.py')
    results = tool.main(['--data-root', str(root / 'data'), '--work-dir', work,
                         '--tokenizer', tokenizer, '--seeds', '0', '--iters', '2',
                         '--pretrain-videos', '4', '--probe-train', '8', '--per-class', '1',
                         '--finetune-epochs', '1'])
    runs = results['runs']
    assert {(r['variant'], r['set']) for r in runs} == {
        (v, s) for v in ('image', 'video', 'joint', 'random') for s in ('spatial', 'temporal')}
    for r in runs:
        for key in ('knn_top1', 'linear_top1', 'finetune_top1'):
            assert r[key] in (0.0, 25.0, 50.0, 75.0, 100.0)  # 4 val videos
    # every pretraining variant made its 2 updates with its own batch composition
    for variant, (videos, images) in (('image', (0, 8)), ('video', (4, 0)), ('joint', (4, 8))):
        rows = []
        for stamp_file in sorted(__import__('glob').glob(osp.join(
                work, f'{variant}_seed0', 'pretrain', '*', 'vis_data', 'scalars.json'))):
            rows += [json.loads(line) for line in open(stamp_file)]
        keys = set().union(*rows)
        assert max(r['iter'] for r in rows if 'iter' in r) == 2
        assert ('loss_video' in keys) == bool(videos) and ('loss_image' in keys) == bool(images)
    # the video stream's use of time, for the variants that have one (toy-temporal rows)
    timed = {r['variant'] for r in runs if 'video_stream' in r}
    assert timed == {'video', 'joint'}
    assert all(r['set'] == 'temporal' for r in runs if 'video_stream' in r)
    for r in runs:
        if 'video_stream' in r:
            assert set(r['video_stream']) == {'ordered', 'shuffled', 'context_swapped',
                                              'most_common_code', 'nearest_unmasked_frame'}
            assert all(0 <= v <= 100 for v in r['video_stream'].values())
    table = open(osp.join(work, 'table.md')).read()
    for variant in ('image', 'video', 'joint', 'random'):
        assert f'| {variant} |' in table
    assert 'context swapped' in results['time_table'] and results['time_table'] in table
    assert '| image |' not in results['time_table']
    assert Image.open(osp.join(work, 'ablation.png')).size[0] > 0


def test_a_finished_pretraining_is_reused_not_repeated(tmp_path, load_tool):
    """A rerun in the same work dir (e.g. after an interruption) reuses iter_<iters>.pth."""
    ablation = load_tool('demo/toy_ablation.py')
    pretrain_config, _pretrain = ablation.pretrain_config, ablation._pretrain
    cfg = pretrain_config('joint', str(tmp_path / 'data'), 'tok.pth', 7, 0,
                          str(tmp_path / 'pretrain'), 'list.txt')
    (tmp_path / 'pretrain').mkdir()
    done = tmp_path / 'pretrain' / 'iter_7.pth'
    done.write_bytes(b'')
    assert _pretrain(cfg) == str(done)  # no Runner built: the data and tokenizer do not exist
