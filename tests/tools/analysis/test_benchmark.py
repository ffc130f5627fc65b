"""The benchmark tool runs on a tiny version of the paper config and reports
positive numbers under the documented JSON keys. (Timing targets are checked by
the benchmark itself, not here; fast attention == reference is tested in
tests/models/test_bevt_swin_backbone.py.)"""
import json
import os.path as osp

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(ROOT, 'configs/bevt/joint_swin_b.py')
TINY_ARCH = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2])
TINY_TOKENIZER = dict(_delete_=True, type='VQVAETokenizer', ch=8, ch_mult=(1, 1, 2, 4),
                      num_res_blocks=1, z_channels=8, embed_dim=8, vocab_size=32,
                      num_groups=4, random_init=True)
OPTIONS = {'model.target_generator': TINY_TOKENIZER, 'model.head.num_classes': 32,
           'model.backbone.window_size': (2, 4, 4)}


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


def test_cfg_options_tokenizer_and_tiny_arch():
    from benchmark import prepare_config
    cfg = prepare_config(CONFIG, OPTIONS, arch=TINY_ARCH, frames=4, size=64)
    assert cfg.model.target_generator.type == 'VQVAETokenizer'
    assert cfg.model.head.in_channels == 16 * 8
    cfg = prepare_config(CONFIG, None)
    # the recipe's DALL-E file is absent here: random weights, said in the notes
    assert cfg.model.target_generator.random_init and cfg.benchmark_notes


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


def test_counted_flops_match_torch_counter():
    """The Swin formula equals torch's FLOP counter on the explicit-attention form."""
    import bevt_mm  # noqa: F401
    from mmaction.registry import MODELS

    from flops import counted_flops, swin_forward_flops
    bb = MODELS.build(dict(type='BEVTSwinTransformer3D', arch=TINY_ARCH, window_size=(2, 4, 4),
                           fused_attention=False, final_norm=False))
    with torch.no_grad():
        for shape, image in (((3, 6, 40, 48), False), ((3, 40, 48), True)):
            x = torch.randn((1, ) + shape)
            counted = counted_flops(bb.forward_pretrain, x)
            assert counted == swin_forward_flops(bb, shape[1:], image=image)['total']


PRETRAIN_CONFIGS = ['bevt/joint_swin_b', 'bevt/image_stream_swin_b', 'bevt/video_only_swin_b',
                    'bevt/joint_timesformer_b', 'toy/toy_joint_swin', 'toy/toy_joint_timesformer']


@pytest.mark.parametrize('name', PRETRAIN_CONFIGS, ids=osp.basename)
def test_defaults_are_the_config_as_shipped(name):
    """With default options every size comes from the config: adapting its pipelines to
    the benchmark's defaults changes nothing (the toy configs' 64-pixel crops included)."""
    from benchmark import _adapt_transform, _datasets, prepare_config
    cfg = prepare_config(osp.join(ROOT, 'configs', name + '.py'))
    frames, size = cfg.benchmark_frames, cfg.benchmark_size
    view = None
    for ds in _datasets(cfg):
        for t in ds['pipeline']:
            if t['type'] == 'TokenizerView':
                view = t['size']
    for ds in _datasets(cfg):
        for t in ds['pipeline']:
            kw = {'base_size': cfg.benchmark_base_size} if 'benchmark_base_size' in cfg else {}
            adapted = _adapt_transform(t, frames, size, view, **kw)
            assert adapted == dict(t), (name, t, adapted)


def test_toy_config_data_part_runs_with_defaults(tmp_path):
    """The data part of `benchmark.py configs/toy/toy_joint_swin.py` (default options)
    decodes and crops the generated toy media (it asserted in RandomCrop before)."""
    from benchmark import _data_report, prepare_config
    import bevt_mm  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    cfg = prepare_config(osp.join(ROOT, 'configs/toy/toy_joint_swin.py'))
    assert (cfg.benchmark_frames, cfg.benchmark_size) == (8, 64)
    out = _data_report(cfg, cfg.benchmark_frames, cfg.benchmark_size, 32, 2, 2, 1.0, 1, 1)
    assert out['video']['samples_per_s'] > 0 and out['image']['samples_per_s'] > 0


def test_recognizer_config_gets_one_line(capsys, load_tool):
    cli = load_tool('analysis/benchmark.py')
    config = osp.join(ROOT, 'configs/toy/toy_finetune_swin_spatial.py')
    with pytest.raises(SystemExit) as exc:
        cli.main([config])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert 'is not a BEVT pretraining config' in err and 'configs/toy/toy_joint_swin.py' in err
