"""Timing, memory and device helpers of the analysis tools.

:func:`round_robin` times several functions in turn, :class:`PeakRSS` samples the
peak resident set size, :func:`matmul_rate` measures the dense matmul rate,
:func:`device_name`, :func:`load_avg` describe the machine.
"""
import contextlib
import functools
import json
import os
import platform
import resource
import statistics
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import torch


AMP_DTYPES = {'none': None, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); nothing on CPU.

    Args:
        device (torch.device): The device timed.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def rss_bytes() -> int:
    """Current resident set size of this process (Linux /proc; else ru_maxrss).

    Returns:
        int: Bytes.
    """
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRSS:
    """Peak resident set size while the context is open, sampled by a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.start = self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> 'PeakRSS':
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def restores_torch_rng(fn: Callable) -> Callable:
    """Decorate a seeded analysis function: torch's generators are back afterwards.

    The function may ``torch.manual_seed`` for its own reproducibility; the
    caller's CPU generator state (and the CUDA ones, where CUDA was already
    initialized) is restored when it returns or raises
    (``torch.random.fork_rng``).

    Args:
        fn (Callable): The function.

    Returns:
        Callable: The wrapped function.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        devices = range(torch.cuda.device_count()) if torch.cuda.is_initialized() else []
        with torch.random.fork_rng(devices=devices):
            return fn(*args, **kwargs)
    return wrapper


def round_robin(fns: Dict[str, Callable[[], Any]], warmup: int, iters: int,
                device: torch.device) -> Dict[str, List[float]]:
    """Time each function ``iters`` times after ``warmup`` calls, in turn.

    Args:
        fns (dict[str, Callable]): Name -> function without arguments.
        warmup (int): Untimed rounds.
        iters (int): Timed rounds.
        device (torch.device): Synchronized around each call.

    Returns:
        dict[str, list[float]]: Name -> ``iters`` wall times in seconds.
    """
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for it in range(warmup + iters):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            if it >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def time_stats(times: List[float]) -> Dict[str, float]:
    """Summary of wall times.

    Args:
        times (list[float]): Seconds.

    Returns:
        dict: ``median_s``, ``min_s``, ``max_s`` and ``n``.
    """
    return dict(median_s=statistics.median(times), min_s=min(times), max_s=max(times),
                n=len(times))


def matmul_rate(device: torch.device, dtype: torch.dtype, n: Optional[int] = None,
                repeats: int = 5) -> float:
    """Dense matmul rate of ``n x n @ n x n`` in ``dtype``, timed on ``device``.

    Args:
        device (torch.device): Where to multiply.
        dtype (torch.dtype): The operands' dtype.
        n (int, optional): Matrix size. Defaults to 8192 on CUDA, 2048 on CPU.
        repeats (int): Timed products (after one untimed). Defaults to 5.

    Returns:
        float: FLOP/s (median).
    """
    n = n or (8192 if device.type == 'cuda' else 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    times = []
    for _ in range(repeats + 1):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - start)
    return 2. * n ** 3 / statistics.median(times[1:])


def load_avg() -> Optional[List[float]]:
    """The 1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def autocast(device: torch.device, amp: str):
    """``torch.autocast`` for an :data:`AMP_DTYPES` name.

    Args:
        device (torch.device): The device.
        amp (str): ``'none'``, ``'fp16'`` or ``'bf16'``.

    Returns:
        A context manager (a no-op for ``'none'``).
    """
    if amp == 'none':
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AMP_DTYPES[amp])


def fwd_bwd(module: Callable, x: torch.Tensor, amp_ctx) -> None:
    """One forward and a backward of all-ones gradients.

    Args:
        module (Callable): Returns a tensor or a tuple/list of tensors.
        x (Tensor): Its input.
        amp_ctx (Callable): Returns the context the forward runs in.
    """
    with amp_ctx():
        out = module(x)
    outs = out if isinstance(out, (tuple, list)) else (out, )
    torch.autograd.backward([o for o in outs], [torch.ones_like(o) for o in outs])


def quiet_mmengine() -> None:
    """Keep mmengine's init/param-wise logs out of the benchmark output.

    Sets mmengine's current logger and its handlers to ERROR for the rest of
    the process: for scripts; :func:`benchmark_settings` restores them.
    """
    import logging
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    logger.setLevel(logging.ERROR)
    for handler in logger.handlers:
        handler.setLevel(logging.ERROR)


@contextlib.contextmanager
def benchmark_settings(device: torch.device, threads: Optional[int] = None):
    """Torch and mmengine set for timing inside the block, restored after it.

    Sets torch's CPU threads to ``threads`` (if given), on CUDA
    ``cudnn.benchmark`` and TF32 matmuls/convolutions on, and mmengine's
    current logger and its handlers to ERROR (:func:`quiet_mmengine`).

    Args:
        device (torch.device): the device timed.
        threads (int, optional): torch intra-op CPU threads. Defaults to None
            (unchanged).
    """
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    levels = [(h, h.level) for h in [logger] + list(logger.handlers)]
    backends = torch.backends
    flags = (torch.get_num_threads(), backends.cudnn.benchmark,
             backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
    try:
        quiet_mmengine()
        if threads:
            torch.set_num_threads(threads)
        if device.type == 'cuda':
            backends.cudnn.benchmark = True
            backends.cuda.matmul.allow_tf32 = backends.cudnn.allow_tf32 = True
        yield
    finally:
        for obj, level in levels:
            obj.setLevel(level)
        if torch.get_num_threads() != flags[0]:
            torch.set_num_threads(flags[0])
        (backends.cudnn.benchmark, backends.cuda.matmul.allow_tf32,
         backends.cudnn.allow_tf32) = flags[1:]


def device_name(dev: torch.device) -> str:
    """The GPU's name, or the CPU's architecture and core count.

    Args:
        dev (torch.device): The device.

    Returns:
        str: E.g. ``'NVIDIA H100'`` or ``'cpu (x86_64, 16 cores)'``.
    """
    if dev.type == 'cuda':
        return torch.cuda.get_device_name(dev)
    return f'cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)'


def dump_json(res: Dict[str, Any], path: str) -> None:
    """Write a result as indented JSON.

    Args:
        res (dict): JSON-able result.
        path (str): The file to write.
    """
    with open(path, 'w') as f:
        json.dump(res, f, indent=1, sort_keys=False)
