"""Checkpoints are written atomically: a kill during saving keeps the old file usable."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from bevt_mm.engine.atomic_backend import AtomicLocalBackend, atomic_write

CHILD = r'''
import sys
import bevt_mm.engine.atomic_backend as ab
path = sys.argv[1]
payload = bytes(512 * 1024 * 1024)  # 512 MiB of zeros: takes a while to write
print('start', flush=True)
ab.AtomicLocalBackend().put(payload, path)
print('done', flush=True)
'''


def _save(obj, path):
    import io
    buf = io.BytesIO()
    torch.save(obj, buf)
    AtomicLocalBackend().put(buf.getvalue(), path)


def test_put_and_put_text_roundtrip(tmp_path):
    path = str(tmp_path / 'sub' / 'epoch_1.pth')
    _save({'w': torch.arange(5)}, path)
    assert torch.equal(torch.load(path, weights_only=False)['w'], torch.arange(5))
    AtomicLocalBackend().put_text('epoch_1.pth', str(tmp_path / 'sub' / 'last_checkpoint'))
    assert open(tmp_path / 'sub' / 'last_checkpoint').read() == 'epoch_1.pth'
    assert sorted(os.listdir(tmp_path / 'sub')) == ['epoch_1.pth', 'last_checkpoint']


@pytest.mark.slow
def test_kill_during_save_leaves_previous_checkpoint(tmp_path):
    path = str(tmp_path / 'latest.pth')
    _save({'step': 1}, path)
    proc = subprocess.Popen([sys.executable, '-c', CHILD, path], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == 'start'
    deadline = time.time() + 60
    tmp_seen = None
    while time.time() < deadline and tmp_seen is None:
        tmps = [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
        if tmps and os.path.getsize(tmp_path / tmps[0]) > 0:
            tmp_seen = tmps[0]
        else:
            time.sleep(0.001)
    assert tmp_seen is not None, 'the writer never started its temporary file'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # The kill landed mid-write: the final path still holds the previous checkpoint.
    assert torch.load(path, weights_only=False) == {'step': 1}
    assert osp.getsize(path) < 4096  # not the 512 MiB being written


def test_failed_write_removes_temporary_file(tmp_path):
    with pytest.raises(TypeError):
        atomic_write(object(), str(tmp_path / 'x.pth'))  # fails after the temp file exists
    assert os.listdir(tmp_path) == []
