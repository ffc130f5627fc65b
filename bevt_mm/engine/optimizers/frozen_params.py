"""An optimizer constructor that leaves frozen modules out quietly.

BEVT pretraining holds a frozen tokenizer (``target_generator``) inside the
model. mmengine's :class:`DefaultOptimWrapperConstructor` with a
``paramwise_cfg`` logs one warning per frozen parameter ("... is skipped
since its requires_grad=False": 74 lines for DALL-E). This constructor skips
every sub-module whose parameters are all frozen before mmengine sees them
and logs one line instead, naming the frozen modules::

    optim_wrapper = dict(
        constructor='FrozenAwareOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05),
        paramwise_cfg=dict(norm_decay_mult=0.0))

Param groups, lr and weight decay are mmengine's, unchanged.
"""
import logging
from typing import Dict, List, Tuple

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import nn

from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS


def frozen_modules(model: nn.Module) -> Dict[str, Tuple[str, int, int]]:
    """The largest sub-modules whose parameters are all frozen.

    Args:
        model (nn.Module): The model.

    Returns:
        dict: ``name -> (class name, parameter tensors, values)`` for each
        module with parameters, none of which requires grad, whose parent
        has a trainable parameter (the model itself is ``''``).
    """
    out: Dict[str, Tuple[str, int, int]] = {}

    def visit(module: nn.Module, prefix: str) -> None:
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            out[prefix] = (type(module).__name__, len(params), sum(p.numel() for p in params))
            return
        for name, child in module.named_children():
            visit(child, f'{prefix}.{name}' if prefix else name)

    visit(model, '')
    return out


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FrozenAwareOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """:class:`DefaultOptimWrapperConstructor` that skips frozen modules with
    one log line instead of a warning per parameter.

    Parameters that require no grad inside a partly trainable module are
    still mmengine's business (and its warning).
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        model = model.module if is_model_wrapper(model) else model
        self._frozen = frozen_modules(model)
        if self._frozen:
            print_log('Frozen, left out of the optimizer: ' + ', '.join(
                f'{name or "the model"} ({cls}, {n} tensors, {numel / 1e6:.2f} M values)'
                for name, (cls, n, numel) in self._frozen.items()), logger='current',
                      level=logging.INFO)
        return super().__call__(model)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   **kwargs) -> None:
        if prefix and prefix in getattr(self, "_frozen", {}):
            return
        super().add_params(params, module, prefix=prefix, **kwargs)
