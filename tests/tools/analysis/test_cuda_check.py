"""tools/analysis/cuda_check.py: the parts that run on a CPU, at tiny sizes."""
import json
import math
import os.path as osp

import pytest
import torch

from bevt_mm.analysis.amp import amp_training_check, judge_amp_run
from bevt_mm.analysis.attention import window_attention_check
from bevt_mm.analysis.tokenizer_agreement import (build_dalle, smooth_images,
                                                  tokenizer_agreement)

from bevt_mm.testing.scripts import load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
cuda_check = load_script(osp.join(ROOT, 'tools', 'analysis', 'cuda_check.py'))
PRESETS, run_cuda_check, write_report = (cuda_check.PRESETS, cuda_check.run_cuda_check,
                                         cuda_check.write_report)
TINY_DALLE = dict(n_hid=64, vocab_size=512, n_blk_per_group=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_without_gpu_one_line_and_exit_0(capsys, load_tool):
    assert load_tool('analysis/cuda_check.py').main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and 'no CUDA device' in out[0]


@pytest.mark.parametrize('window,dtype', [((2, 3, 3), torch.float32),
                                          ((2, 3, 3), torch.bfloat16),
                                          ((1, 3, 3), torch.float32)])
def test_sdpa_matches_explicit_with_bias_table_gradient(window, dtype):
    r = window_attention_check(window, dim=16, num_heads=2, windows=8,
                               shifted=window[0] > 1, dtype=dtype)
    assert r['passed'], r
    assert set(r['rel_diff']) == {'out', 'grad_x', 'grad_qkv', 'grad_bias_table'}
    assert r['shifted'] == (window[0] > 1) and r['tokens'] == math.prod(window)
    if dtype == torch.float32:
        assert max(r['rel_diff'].values()) < 1e-5
    else:  # bf16 rounding shows, within the stated tolerance
        assert 0 < max(r['rel_diff'].values()) <= r['tolerance']
    # the bias table gets a gradient through SDPA (CPU: the math kernel runs)
    assert r['backends']['each']['math'] == 'ok' and r['backends']['default']


def test_tokenizer_agreement_under_cpu_bf16_autocast():
    tok = build_dalle(None, **TINY_DALLE)
    images = smooth_images(3, 32)
    assert images.shape == (3, 3, 32, 32) and 0 <= images.min() and images.max() <= 255
    r = tokenizer_agreement(tok, images, dtypes=[torch.bfloat16])
    assert r['tokens'] == 3 * 4 * 4 and r['view'] == [32, 32]
    assert 0.0 <= r['bfloat16']['agreement'] <= 1.0
    assert 0.0 <= r['bfloat16']['images_all_equal'] <= r['bfloat16']['agreement'] or \
        r['bfloat16']['agreement'] == 1.0


@pytest.fixture(scope='module')
def amp_bf16():
    kw = PRESETS['tiny']['amp']
    return amp_training_check(osp.join(ROOT, kw['config']), amp='bf16', iters=4, **kw['kwargs'])


def test_amp_training_check_bf16_on_cpu_falls(amp_bf16):
    r = amp_bf16
    assert r['wrapper'] == 'OptimWrapper'  # AmpOptimWrapper is CUDA-only: autocast around it
    assert r['passed'] and r['finite'] and r['falling'], r['losses']
    assert r['losses'][-1] < r['losses'][0] and r['skipped'] == [False] * 4


def test_judge_amp_run_loss_scale_rules():
    falling = [5., 4., 3., 2., 1., .5]
    ok = judge_amp_run(falling, [65536., 32768., 32768., 32768., 32768., 32768.],
                       [True, False, False, False, False, False], 'fp16')
    assert ok['passed']  # a skipped first step (scale too high) is normal
    late = judge_amp_run(falling, [65536.] * 4 + [32768., 16384.], [False] * 4 + [True] * 2,
                         'fp16')
    assert not late['scale_ok'] and not late['passed']
    assert not judge_amp_run(falling, [0.] * 6, [False] * 6, 'fp16')['scale_ok']
    assert not judge_amp_run([5., float('nan'), 1.], [None] * 3, [False] * 3, 'bf16')['finite']
    assert not judge_amp_run([5., 5.1, 5.2], [None] * 3, [False] * 3, 'bf16')['falling']


def test_cpu_dry_run_writes_json_and_table(tmp_path, capsys, load_tool):
    """The CLI on the CPU (tiny preset): JSON and Markdown table of the parts run."""
    out = str(tmp_path / 'check.json')
    tool = load_tool('analysis/cuda_check.py')
    assert tool.main(['--device', 'cpu', '--parts', 'attention', 'tokenizer', '--json', out]) == 0
    res = json.load(open(out))
    assert res['passed'] and res['preset'] == 'tiny' and len(res['attention']) == 6
    assert {'attention', 'tokenizer'} <= set(res) and 'benchmark' not in res
    table = open(str(tmp_path / 'check.md')).read()
    assert 'PASSED' in table and 'grad bias table' in table
    assert 'tokenizer ids under autocast' in table
    assert table.strip() in capsys.readouterr().out


def test_report_table_of_every_part(amp_bf16, tmp_path):
    """format_report/write_report on a result with every part; the benchmark
    entry has run_cuda_check's schema (a tiny benchmark takes minutes on a
    loaded 2-core CPU, so its numbers here are written by hand)."""
    res = run_cuda_check('cpu', 'tiny', parts=('attention', ))
    res['amp'] = [amp_bf16, dict(amp='fp16', passed=False, error='RuntimeError: boom')]
    bench = dict(config='configs/bevt/joint_swin_b.py', arch='base', amp='fp16',
                 batch_videos=8, batch_images=64, frames=16, size=224, step_s=2.0,
                 step_no_tokenizer_s=1.5, clips_per_s=4.0, images_per_s=32.0,
                 peak_memory_bytes=40 * 2**30, memory_kind='cuda_max_allocated',
                 flops_step=2.4e13, flops_per_s=1.2e13,
                 utilization=dict(fp16=0.5, bf16=0.25), ratios={}, notes=[])
    res['benchmark'] = dict(matmul=dict(fp16=2.4e13, bf16=4.8e13), no_cp=bench,
                            with_cp=dict(error='OutOfMemoryError: CUDA out of memory'))
    res['passed'] = False
    path = str(tmp_path / 'r.json')
    table = write_report(res, path)
    assert json.load(open(path))['benchmark']['no_cp']['step_s'] == 2.0
    assert open(str(tmp_path / 'r.md')).read().strip() == table.strip()
    assert 'FAILED' in table and 'error: RuntimeError: boom' in table
    assert '| no_cp | 2.000 | 1.500 | 4.00 | 32.0 | 40.00 | 12 | 50.0% | 25.0% |' in table
    assert '| with_cp | error: OutOfMemoryError' in table
    assert 'matmul: fp16 24 TFLOP/s, bf16 48 TFLOP/s' in table
