"""Load checkpoints without running their pickles: torch's ``weights_only`` plus an allowlist.

Since torch 2.6, ``torch.load`` unpickles with ``weights_only=True``: only
tensors, containers and an allowlist of types are rebuilt, and a file whose
pickle would call anything else is refused before any of its code runs.
mmengine's training checkpoints hold a few more types than torch allows by
default; :func:`checkpoint_globals` names exactly those, and
:func:`bevt_mm.compat.allow_checkpoint_globals` adds them to torch's
allowlist when bevt_mm is imported, so stock mmengine loads (``load_from``,
``resume``, ``pretrained=``) read such checkpoints with torch's own
protection. ``tests/utils/test_safe_load.py`` derives the list from a real
training checkpoint and checks that it is no wider.

bevt_mm's own tools (converters, tokenizers, analysis scripts, the resume
check of ``tools/train.py``) load through :func:`load_checkpoint_file`. A
refused file raises :class:`UntrustedCheckpointError` naming the file, the
refused global and the opt-in of these tools: the environment variable
``BEVT_TRUST_CHECKPOINTS=1`` (never on by default) makes a refused load fall
back to ``weights_only=False`` - the pickle then runs, so set it only for a
file you trust. Stock loads do not read this variable; they raise torch's
own error.
"""
import contextlib
import os
import os.path as osp
import pickle
import re
import warnings
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

#: The environment variable that lets a refused file load unrestricted.
TRUST_ENV = 'BEVT_TRUST_CHECKPOINTS'
_TRUE = ('1', 'true', 'yes', 'y')

Global = Union[Callable, Tuple[Callable, str]]


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint's pickle needs a global outside the allowlist (nothing of it ran)."""


def trust_checkpoints() -> bool:
    """Whether the user opted in to unrestricted loads (``BEVT_TRUST_CHECKPOINTS=1``)."""
    return os.environ.get(TRUST_ENV, '').strip().lower() in _TRUE


def _history_buffer_method(owner: Any, name: str) -> Callable:
    """The one ``getattr`` a checkpoint may call: a statistics method of HistoryBuffer.

    mmengine's ``HistoryBuffer`` pickles its ``statistics_methods``
    (``min``, ``max``, ``mean``, ``current``) as ``getattr(HistoryBuffer,
    name)``. Allowing ``builtins.getattr`` itself would let a pickle fetch any
    attribute of any allowed object; this stand-in answers only those names.

    Raises:
        pickle.UnpicklingError: any other object or name.
    """
    from mmengine.logging import HistoryBuffer
    if owner is HistoryBuffer and name in ('min', 'max', 'mean', 'current'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL builtins.getattr (called on {owner!r}, {name!r}; only '
        'the statistics methods of mmengine.logging.HistoryBuffer are allowed)')


#: dtypes of the arrays and scalars found in our checkpoints: float64 (message-hub
#: history, metrics), int64 (history counts), uint32 (NumPy's RNG key)
_NUMPY_DTYPES = ('f8', 'i8', 'u4')


def _numpy_globals() -> List[Global]:
    """NumPy arrays, dtypes and scalars (RNG states, message-hub values, metrics).

    Registered under both module names, ``numpy._core`` (NumPy 2) and
    ``numpy.core`` (files written with NumPy 1).
    """
    reconstruct = np._core.multiarray._reconstruct if hasattr(np, '_core') else \
        np.core.multiarray._reconstruct
    scalar = np._core.multiarray.scalar if hasattr(np, '_core') else np.core.multiarray.scalar
    out: List[Global] = [np.ndarray, np.dtype]
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        out += [(reconstruct, f'{module}._reconstruct'), (scalar, f'{module}.scalar')]
    # ``numpy.dtype('f8')`` is an instance of ``numpy.dtypes.Float64DType``, which
    # the unpickler must be allowed to rebuild (BUILD); only the dtypes we store
    out += [type(np.dtype(code)) for code in _NUMPY_DTYPES]
    return out


def checkpoint_globals() -> List[Global]:
    """Globals that mmengine and bevt_mm training legitimately store in a checkpoint.

    Beyond torch's defaults (tensors, ``OrderedDict``, ``torch.Size``...):

    * ``mmengine.logging.HistoryBuffer`` and its statistics methods (the
      message hub's ``log_scalars``);
    * NumPy ``ndarray``, ``dtype`` (float64, int64 and uint32 only) and
      scalars (``RNGStateHook``'s NumPy state, the message hub's arrays and
      values).

    Returns:
        list: entries for ``torch.serialization.safe_globals``.
    """
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, (_history_buffer_method, 'builtins.getattr')] + _numpy_globals()


@contextlib.contextmanager
def _allowlisted(entries: Sequence[Global]) -> Iterator[None]:
    """Add ``entries`` to torch's safe globals for the block; remove only those it added.

    (``torch.serialization.safe_globals`` removes its entries on exit even if
    they were registered before, e.g. by the user's ``add_safe_globals``.)
    """
    present = set(torch.serialization.get_safe_globals())
    added = [e for e in dict.fromkeys(entries) if e not in present]
    torch.serialization.add_safe_globals(added)
    try:
        yield
    finally:
        if added:
            kept = [e for e in torch.serialization.get_safe_globals() if e not in set(added)]
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals(kept)


def refused_global(err: BaseException) -> Optional[str]:
    """The global named in torch's ``weights_only`` refusal, if it names one."""
    match = re.search(r'GLOBAL ([\w.]+)', str(err))
    if match:
        return match.group(1)
    match = re.search(r'(?:unrecognized function|but got) (<[^>]*>|\S+)', str(err))
    return match.group(1) if match else None


def refusal(source: str, err: BaseException) -> UntrustedCheckpointError:
    """The error for a file whose pickle needs more than the allowlist."""
    name = refused_global(err)
    return UntrustedCheckpointError(
        f'{source}: refused to load this checkpoint: its pickle needs {name}, which is not '
        'among the types that tensors, mmengine and bevt_mm checkpoints hold, so loading it '
        'could run code (nothing of it ran). If you trust the file, set the environment '
        f'variable {TRUST_ENV}=1 to load it with torch.load(weights_only=False).')


def _refuse_unless_trusted(source: str, err: pickle.UnpicklingError) -> None:
    """Raise the refusal, or warn and return when the user opted in (our tools only).

    An error that names no refused global (a corrupt file, or a pickle
    opcode torch's restricted unpickler does not read) is re-raised as it is
    unless the user opted in.
    """
    name = refused_global(err)
    if not trust_checkpoints():
        if name is None:
            raise err
        raise refusal(source, err) from err
    warnings.warn(f'{source}: loading with weights_only=False because {TRUST_ENV} is set '
                  f'(the restricted load failed: {name or str(err).splitlines()[-1][:200]})')


def load_checkpoint_file(path: str, map_location: Any = 'cpu',
                         extra_globals: Sequence[Global] = ()) -> Any:
    """``torch.load`` a local file with ``weights_only=True`` and the checkpoint allowlist.

    Args:
        path (str): the file.
        map_location: as for ``torch.load``. Defaults to ``'cpu'``.
        extra_globals (sequence): more allowed globals for this load only (e.g.
            the dall_e classes of OpenAI's pickled encoder).

    Returns:
        Any: what ``torch.load`` returned.

    Raises:
        UntrustedCheckpointError: the pickle needs another global and
            ``BEVT_TRUST_CHECKPOINTS`` is not set.
    """
    path = osp.expanduser(str(path))
    try:
        with _allowlisted(checkpoint_globals() + list(extra_globals)):
            return torch.load(path, map_location=map_location, weights_only=True)
    except UntrustedCheckpointError:
        raise
    except pickle.UnpicklingError as err:
        _refuse_unless_trusted(path, err)
    return torch.load(path, map_location=map_location, weights_only=False)
