"""tools/train.py runs a toy BEVT step in whatever environment runs the tests.

tools/check_install.sh runs it (BEVT_CHECK_INSTALL=1) in a scratch venv with a
given torch; the suite skips it (tests/reliability runs tools/train.py already).
"""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'reliability'))

from toy_run import make_media, make_tokenizer, toy_config  # noqa: E402


@pytest.mark.skipif(not os.environ.get('BEVT_CHECK_INSTALL'),
                    reason='run by tools/check_install.sh (BEVT_CHECK_INSTALL=1)')
def test_train_tool_runs_a_toy_joint_step(tmp_path):
    media = make_media(str(tmp_path / 'data'), num_videos=2, num_images=2)
    tokenizer = make_tokenizer(str(tmp_path / 'tokenizer.pth'))
    work_dir = str(tmp_path / 'work')
    config = str(tmp_path / 'toy.py')
    toy_config(media, tokenizer, work_dir, config, max_iters=2)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), config],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
