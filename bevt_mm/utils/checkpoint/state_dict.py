"""Read the state dict out of a loaded checkpoint, with mmengine's key revision."""
import re
from collections import OrderedDict
from typing import Any, Dict, Sequence, Tuple

from torch import Tensor

StateDict = Dict[str, Tensor]

#: mmengine's default ``revise_keys`` (``load_checkpoint``): drop a DDP ``module.`` prefix
DDP_REVISE_KEYS = ((r'^module\.', ''), )


def revise_keys(state_dict: StateDict,
                rules: Sequence[Tuple[str, str]] = DDP_REVISE_KEYS) -> StateDict:
    """Rename keys with ``re.sub(pattern, repl, key)`` for each rule, in order.

    The same rule format and order as ``revise_keys`` of
    ``mmengine.runner.load_checkpoint``.

    Args:
        state_dict (dict): Keys to revise.
        rules (Sequence[tuple[str, str]]): ``(pattern, replacement)`` pairs.

    Returns:
        OrderedDict: The revised state dict.
    """
    for pattern, repl in rules:
        state_dict = OrderedDict((re.sub(pattern, repl, k), v) for k, v in state_dict.items())
    return state_dict


def select_prefix(state_dict: StateDict, prefix: str) -> StateDict:
    """The keys under ``prefix``, without it (mmengine's ``_load_checkpoint_with_prefix``).

    Args:
        state_dict (dict): A state dict.
        prefix (str): E.g. ``'backbone.'``; ``''`` returns the input.

    Returns:
        dict: Only the keys that started with ``prefix``.
    """
    if not prefix:
        return dict(state_dict)
    pattern = '^' + re.escape(prefix)
    return dict(revise_keys({k: v for k, v in state_dict.items() if k.startswith(prefix)},
                            [(pattern, '')]))


def get_state_dict(checkpoint: Any, prefix: str = '') -> StateDict:
    """The state dict inside a checkpoint, without a DDP ``module.`` prefix.

    Args:
        checkpoint (Any): A state dict or a dict holding one under
            ``state_dict``, ``model`` or ``module`` (possibly nested).
        prefix (str): If some keys start with it (e.g. ``'backbone.'`` for a
            whole model), return only those, without it; otherwise every
            key (a bare backbone state dict). Defaults to ``''``.

    Returns:
        dict[str, Tensor]: The state dict (tensors only).

    Raises:
        ValueError: No dict of tensors found.
    """
    obj = checkpoint
    while isinstance(obj, dict) and not any(isinstance(v, Tensor) for v in obj.values()):
        inner = next((obj[k] for k in ('state_dict', 'model', 'module')
                      if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, dict) or not obj:
        raise ValueError('no state dict found in the checkpoint (expected a dict of '
                         'tensors, possibly under "state_dict", "model" or "module")')
    state_dict = dict(revise_keys({k: v for k, v in obj.items() if isinstance(v, Tensor)}))
    if prefix and any(k.startswith(prefix) for k in state_dict):
        return select_prefix(state_dict, prefix)
    return state_dict
