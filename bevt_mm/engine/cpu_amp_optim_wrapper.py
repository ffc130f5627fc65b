"""Mixed precision on CPU: bf16 autocast (``CPUAmpOptimWrapper``).

mmengine's :class:`~mmengine.optim.AmpOptimWrapper` refuses to build without
an accelerator. :func:`bevt_mm.engine.launch.adapt_to_device` replaces it on
CPU-only machines (``--amp`` or an AMP recipe) with this wrapper, so that AMP
means the same on every device: forward and loss under autocast, weights,
gradients and optimizer state in fp32.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast

from mmaction.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """:class:`OptimWrapper` whose ``optim_context`` runs under CPU autocast.

    bf16 has fp32's exponent range, so no loss scaling is needed (the reason
    for ``AmpOptimWrapper``'s scaler with fp16); backward, clipping and the
    step are :class:`OptimWrapper`'s.

    Args:
        dtype (str | torch.dtype): Autocast dtype. Defaults to ``'bfloat16'``
            (CPU autocast's dtype).
        **kwargs: Arguments of :class:`OptimWrapper` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, dtype='bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        """Gradient-accumulation context of :class:`OptimWrapper`, plus CPU
        autocast in ``cast_dtype``."""
        with super().optim_context(model), autocast(device_type='cpu',
                                                    dtype=self.cast_dtype):
            yield
