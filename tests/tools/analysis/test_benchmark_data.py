"""tools/analysis/benchmark_data.py: the data pipeline timing, alone and in the benchmark."""
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def test_toy_config_data_part_runs_with_defaults(tmp_path):
    """The data part of `benchmark.py configs/toy/toy_joint_swin.py` (default options)
    decodes and crops the generated toy media (it asserted in RandomCrop before)."""
    import bevt_mm  # noqa: F401
    from mmengine.registry import init_default_scope

    from bevt_mm.analysis.step_setup import prepare_config
    from bevt_mm.analysis.data_timing import data_report
    init_default_scope('mmaction')
    cfg = prepare_config(osp.join(ROOT, 'configs/toy/toy_joint_swin.py'))
    assert (cfg.benchmark_frames, cfg.benchmark_size) == (8, 64)
    out = data_report(cfg, cfg.benchmark_frames, cfg.benchmark_size, 32, 2, 2, 1.0, 1, 1)
    assert out['video']['samples_per_s'] > 0 and out['image']['samples_per_s'] > 0


def test_cli_times_both_pipelines(tmp_path, load_tool):
    out = str(tmp_path / 'data.json')
    res = load_tool('analysis/benchmark_data.py').main(
        [osp.join(ROOT, 'configs/toy/toy_joint_swin.py'), '--iters', '1', '--json', out])
    assert res['video']['per_sample_ms'] > 0 and res['image']['per_sample_ms'] > 0
    assert res['masks']['video_mask_us'] > 0 and osp.isfile(out)
