"""tools/analysis/benchmark.py runs on a tiny version of the paper config and reports
positive numbers under the documented JSON keys; its stock baseline builds for every config.
(Timing targets are checked by the benchmark itself, not here; fast attention == reference
is tested in tests/models/test_bevt_swin_backbone.py.)"""
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(ROOT, 'configs/bevt/joint_swin_b.py')
TINY_ARCH = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2])


@pytest.fixture(scope='module')
def result(tmp_path_factory, load_tool):
    main = load_tool('analysis/benchmark.py').main
    out = str(tmp_path_factory.mktemp('bench') / 'bench.json')
    main([CONFIG, '--arch', json.dumps(TINY_ARCH), '--frames', '4', '--size', '64',
          '--batch-videos', '1', '--batch-images', '2', '--iters', '1', '--warmup', '0',
          '--data-iters', '1', '--threads', '1', '--with-cp-compare', '--json', out,
          '--cfg-options', 'model.backbone.window_size=(2,4,4)'])
    with open(out) as f:
        return json.load(f)


@pytest.mark.slow
def test_json_keys_and_positive_numbers(result):
    times = result['times']
    for key in ('step', 'step_no_tokenizer', 'tokenizer', 'backbone_video', 'backbone_image',
                'head', 'optimizer', 'stock_video', 'stock_video_sdpa'):
        assert times[key]['median_s'] > 0, key
    for key in ('clips_per_s', 'images_per_s'):
        assert result['throughput'][key] > 0
    for key in ('step_no_tokenizer_vs_stock', 'step_no_tokenizer_vs_stock_sdpa'):
        assert result['ratios'][key] > 0
    assert result['memory']['peak_bytes'] > 0
    assert result['flops']['step'] > result['flops']['step_no_tokenizer'] > 0
    assert result['matmul']['flops_per_s'] > 0
    assert 0 < result['utilization']['step']
    assert len(result['attention']) == 4
    for row in result['attention']:
        assert row['max_abs_diff'] < 1e-4 and row['sdpa_ms'] > 0
    data = result['data']
    assert data['video']['samples_per_s'] > 0 and data['image']['samples_per_s'] > 0
    assert data['masks']['video_mask_us'] > 0 and data['notes']
    cp = result['with_cp_compare']
    assert 'error' not in cp['no_cp'] and 'error' not in cp['with_cp']
    assert cp['with_cp']['step_s'] > 0


PRETRAIN_CONFIGS = ['bevt/joint_swin_b', 'bevt/image_stream_swin_b', 'bevt/video_only_swin_b',
                    'bevt/joint_timesformer_b', 'toy/toy_joint_swin', 'toy/toy_joint_timesformer']


def test_recognizer_config_gets_one_line(capsys, load_tool):
    cli = load_tool('analysis/benchmark.py')
    config = osp.join(ROOT, 'configs/toy/toy_finetune_swin_spatial.py')
    with pytest.raises(SystemExit) as exc:
        cli.main([config])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert 'is not a BEVT pretraining config' in err and 'configs/toy/toy_joint_swin.py' in err


@pytest.mark.parametrize('name', PRETRAIN_CONFIGS, ids=osp.basename)
def test_stock_baseline_gets_only_the_keys_the_stock_backbone_takes(name):
    """The stock comparison model of every pretraining config builds (keys of ours such
    as relative_bias_lookup, mask_token, fused_attention never reach SwinTransformer3D or
    TimeSformer) and has the architecture of the config's backbone (small sizes here)."""
    from bevt_mm.analysis.benchmark import stock_backbone
    from mmengine.config import Config

    from mmaction.registry import MODELS
    bb = dict(Config.fromfile(osp.join(ROOT, 'configs', name + '.py')).model.backbone)
    if 'arch' in bb:
        bb['arch'] = TINY_ARCH
    else:
        bb.update(embed_dims=16, num_heads=2, num_transformer_layers=1)
    stock = stock_backbone(bb)
    assert type(stock).__module__.startswith('mmaction.models.backbones.')
    assert type(stock).__name__ == ('SwinTransformer3D' if 'arch' in bb else 'TimeSformer')
    ours = MODELS.build(dict(bb, pretrained=None))
    assert isinstance(ours, type(stock))
    theirs, mine = dict(stock.named_parameters()), dict(ours.named_parameters())
    shared = set(theirs) & set(mine)
    assert len(shared) >= 0.9 * len(theirs)
    assert all(theirs[n].shape == mine[n].shape for n in shared)


def test_toy_config_with_default_options_runs(tmp_path, load_tool):
    """`benchmark.py configs/toy/toy_joint_swin.py` with the default sizes and batch: the
    stock baseline used to crash (unexpected keyword argument 'relative_bias_lookup')."""
    out = str(tmp_path / 'bench.json')
    load_tool('analysis/benchmark.py').main([
        osp.join(ROOT, 'configs/toy/toy_joint_swin.py'), '--iters', '1', '--warmup', '0',
        '--no-data', '--no-attention', '--threads', '1', '--json', out])
    with open(out) as f:
        res = json.load(f)
    assert res['times']['stock_video']['median_s'] > 0
    assert res['ratios']['step_no_tokenizer_vs_stock'] > 0


def test_timesformer_config_is_refused_by_name(capsys, load_tool):
    config = osp.join(ROOT, 'configs/toy/toy_joint_timesformer.py')
    with pytest.raises(SystemExit) as exc:
        load_tool('analysis/benchmark.py').main([config])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "model.backbone.type='BEVTTimeSformer'" in err and 'Swin' in err


def test_benchmark_settings_are_restored():
    """run_benchmark's thread count and log level last for the run only."""
    import logging

    import torch
    from mmengine.logging import MMLogger

    from bevt_mm.analysis.measure import benchmark_settings
    logger = MMLogger.get_current_instance()
    threads, level = torch.get_num_threads(), logger.level
    other = 1 if threads != 1 else 2
    with benchmark_settings(torch.device('cpu'), other):
        assert torch.get_num_threads() == other
        assert logger.level == logging.ERROR
    assert torch.get_num_threads() == threads and logger.level == level


def test_seeded_analysis_functions_leave_torchs_generator_as_it_was():
    """make_attention seeds its weights; the caller's random stream goes on untouched."""
    import torch

    from bevt_mm.analysis.attention import make_attention
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = make_attention((2, 2, 2), 8, 2, torch.device('cpu'), seed=0)
    b = make_attention((2, 2, 2), 8, 2, torch.device('cpu'), seed=0)
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(),
                                                  b.state_dict().values()))
