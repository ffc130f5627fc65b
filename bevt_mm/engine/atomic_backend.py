"""Atomic local writes for checkpoints.

mmengine serializes a checkpoint to memory and then writes the bytes straight
into the final file; a job killed during that write leaves a truncated
``epoch_N.pth`` (and a ``last_checkpoint`` pointing at it), and ``--resume``
then fails. :class:`AtomicLocalBackend` writes to a temporary file in the same
folder, flushes and fsyncs it, and renames it over the target
(``os.replace`` is atomic on POSIX and Windows), so a reader sees either the
old file or the complete new one.

Use it by naming it in the checkpoint hook (our ``configs/_base_`` runtime
does)::

    default_hooks = dict(checkpoint=dict(type='CheckpointHook',
                                         backend_args=dict(backend='atomic_local')))
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that the file is never seen half-written.

    Args:
        data: The bytes to write.
        filepath: The destination; its folder is created if missing.
    """
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            view = memoryview(data)
            chunk = 1 << 22  # 4 MiB
            for start in range(0, len(view), chunk):
                f.write(view[start:start + chunk])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), filepath)


register_backend('atomic_local', AtomicLocalBackend, force=True)
