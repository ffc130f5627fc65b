"""tools/train_tokenizer.py reports progress from the first step and leaves a
usable checkpoint behind when stopped (Ctrl-C) mid-training."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from bevt_mm.utils.safe_load import load_checkpoint_file
from bevt_mm.models.tokenizers import VQVAETokenizer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


@pytest.mark.slow
def test_progress_and_checkpoint_of_a_stopped_run(tmp_path):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(8):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(
            folder / f'{k}.jpg')
    out = str(tmp_path / 'tok.pth')
    proc = subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'tools', 'train_tokenizer.py'), str(folder), '--out', out,
         '--preset', 'tiny', '--size', '16', '--steps', '1000000', '--batch-size', '2',
         '--workers', '0', '--val-images', '2', '--save-every', '3'],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))
    lines, deadline = [], time.time() + 120
    try:
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if 'step 6: saved' in line:
                break
        first = [line for line in lines if 'step 1/1000000' in line]
        assert first and 's/step, about ' in first[0] and ' left)' in first[0], ''.join(lines)
        assert any('step 6: saved' in line for line in lines), ''.join(lines[-20:])
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest[-2000:]
    assert 'stopped at step' in rest
    meta = load_checkpoint_file(out)['meta']
    assert meta['steps_done'] >= 6 and 'eval' not in meta
    assert not osp.exists(out + '.tmp')
    tok = VQVAETokenizer(checkpoint=out)  # architecture from the file
    assert tok.vocab_size == meta['tokenizer_cfg']['vocab_size']
