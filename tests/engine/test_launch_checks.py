"""tools/train.py's config checks: named config values through --cfg-options,
a missing start checkpoint, and CPU AMP chosen by the CPU's bf16 support."""
import os
import os.path as osp
import subprocess
import sys
from argparse import Namespace

import pytest
from mmengine.config import Config

from bevt_mm.engine.launch import (adapt_to_device, check_load_from, cpu_has_native_bf16,
                                   merge_train_args)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _args(config: str, **options) -> Namespace:
    return Namespace(config=config, work_dir='/tmp/unused', resume=None, amp=False,
                     no_validate=False, auto_scale_lr=False, seed=None, diff_rank_seed=False,
                     deterministic=False, cfg_options=options or None, launcher='none')


def _load(name: str) -> Config:
    folder = 'toy' if name.startswith('toy_') else 'bevt'
    return Config.fromfile(osp.join(ROOT, 'configs', folder, name))


@pytest.mark.parametrize('key,value,named', [
    ('videos_per_gpu', 2, 'train_dataloader.sampler.videos_per_gpu'),
    ('num_frames', 4, 'clip_len'),
    ('video_ann_file', 'mine.txt', 'train_dataloader.dataset.datasets.0.ann_file'),
])
def test_named_config_values_are_refused_with_the_keys_to_set(key, value, named):
    cfg = _load('joint_swin_b.py')
    with pytest.raises(ValueError, match=rf'{key}=.*name of the config file.*{named}'):
        merge_train_args(cfg, _args('joint_swin_b.py', **{key: value}))


def test_runner_keys_and_dotted_keys_pass():
    cfg = merge_train_args(_load('toy_joint_swin.py'), _args(
        'toy_joint_swin.py', **{'train_dataloader.sampler.videos_per_gpu': 2,
                                'train_dataloader.batch_size': 10, 'load_from': None,
                                'find_unused_parameters': True}))
    assert cfg.train_dataloader.sampler.videos_per_gpu == 2


@pytest.mark.slow
def test_missing_image_stream_init_says_how_to_start_from_scratch(tmp_path):
    cfg = _load('joint_swin_b.py')
    assert not osp.exists(cfg.load_from)
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'),
         osp.join(ROOT, 'configs', 'bevt', 'joint_swin_b.py'), '--work-dir', str(tmp_path)],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert 'joint_init.pth' in last and '--cfg-options load_from=None' in last, proc.stderr[-3000:]
    check_load_from(merge_train_args(_load('joint_swin_b.py'),
                                     _args('joint_swin_b.py', load_from=None)))  # passes


def test_cpu_bf16_flags():
    assert cpu_has_native_bf16('processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n')
    assert cpu_has_native_bf16('flags\t\t: fpu avx512f amx_bf16 amx_tile\n')
    assert cpu_has_native_bf16('Features\t: fp asimd bf16 i8mm\n')  # aarch64
    assert not cpu_has_native_bf16('flags\t\t: fpu sse avx2 avx512f avx512bw\n')
    assert not cpu_has_native_bf16('')


@pytest.mark.parametrize('native,expected', [(True, 'CPUAmpOptimWrapper'),
                                             (False, 'OptimWrapper')])
def test_cpu_amp_is_bf16_only_with_native_bf16(native, expected):
    if __import__('torch').cuda.is_available():
        pytest.skip('CUDA keeps AmpOptimWrapper')
    cfg = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic',
                                         optimizer=dict(type='SGD', lr=0.1))))
    with pytest.warns(UserWarning, match='fp32' if not native else 'bf16'):
        adapt_to_device(cfg, native_bf16=native)
    assert cfg.optim_wrapper.type == expected
    assert 'loss_scale' not in cfg.optim_wrapper
    forced = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper', dtype='bfloat16',
                                            optimizer=dict(type='SGD', lr=0.1))))
    adapt_to_device(forced, native_bf16=False)
    assert forced.optim_wrapper.type == 'CPUAmpOptimWrapper'


@pytest.mark.parametrize('config,head', [('finetune_swin_b_k400.py', 'cls_head'),
                                         ('joint_swin_b.py', 'head')])
def test_backbone_arch_override_sets_head_in_channels(config, head):
    with pytest.warns(UserWarning, match=f'model.{head}.in_channels=1024'):
        cfg = merge_train_args(_load(config), _args(config, **{
            'model.backbone.arch': 'tiny', 'load_from': None}))
    assert cfg.model[head].in_channels == 768
    with pytest.raises(ValueError, match=f'model.{head}.in_channels=1024 but'):
        merge_train_args(_load(config), _args(config, **{
            'model.backbone.arch': 'tiny', f'model.{head}.in_channels': 1024,
            'load_from': None}))


@pytest.mark.slow
def test_every_swin_config_has_matching_head_channels():
    import glob
    import warnings

    from bevt_mm.engine.launch import derive_head_in_channels
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))):
        cfg = Config.fromfile(path)
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            derive_head_in_channels(cfg)
