"""Warnings of the supported stack that say nothing about the user's run.

Each entry names the exact message, the module that emits it and why it is
noise. :func:`ignore_stack_noise` is for the entry points of ``tools/`` and
``demo/`` (processes that are ours); the plugin itself hides only
:data:`MMCV_LITE_OPS`, and only while it imports MMAction2's models
(:func:`ignoring`). :func:`quiet_stack_logs` drops the stack's two
deprecation notices from an mmengine logger (:data:`STACK_NOISE_LOGS`).
"""
import contextlib
import logging
import warnings
from typing import Iterator, Tuple

#: mmcv-lite has no compiled ops, so importing ``mmcv.cnn.bricks.transformer`` (every
#: ``import mmaction.models``) warns that ``MultiScaleDeformableAttention`` is missing; no
#: MMAction2 recognizer or BEVT model uses it.
MMCV_LITE_OPS = (r'Fail to import ``MultiScaleDeformableAttention``', UserWarning,
                 r'mmcv\.cnn\.bricks\.transformer')

#: (message, category, module) regular expressions, as :func:`warnings.filterwarnings` takes
#: them, of warnings printed on every run of the pinned stack.
STACK_NOISE: Tuple[Tuple[str, type, str], ...] = (
    MMCV_LITE_OPS,
    # mmengine 0.10.7 imports (and reloads) setuptools' pkg_resources to find the installed
    # mmaction2 of a ``mmaction::`` config base; setuptools 80 warns at each (re)import
    (r'pkg_resources is deprecated as an API', UserWarning,
     r'(mmengine\.utils\.package_utils|importlib)$'),
    # MMAction2 1.2.0's WindowAttention3D calls torch.meshgrid without ``indexing``
    (r'torch\.meshgrid: in an upcoming release, it will be required to pass the indexing',
     UserWarning, r'torch\.functional$'),
)

#: mmengine log records (not warnings) printed wherever MMAction2's ``DecordInit`` opens its
#: first file: it builds mmengine's deprecated ``FileClient`` with the ``'disk'`` backend.
STACK_NOISE_LOGS: Tuple[str, ...] = (
    '"FileClient" will be deprecated in future',
    '"HardDiskBackend" is the alias of "LocalBackend"',
)


class StackNoiseLogFilter(logging.Filter):
    """Drops the log records that start with a :data:`STACK_NOISE_LOGS` text."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False (drop) for a stack noise record, True for any other."""
        return not record.getMessage().startswith(STACK_NOISE_LOGS)


def quiet_stack_logs(logger: logging.Logger) -> None:
    """Drop the :data:`STACK_NOISE_LOGS` records of ``logger`` (e.g. ``runner.logger``).

    For scripts only, like :func:`ignore_stack_noise`; other records pass.

    Args:
        logger (logging.Logger): Gets a :class:`StackNoiseLogFilter` (once).
    """
    if not any(isinstance(f, StackNoiseLogFilter) for f in logger.filters):
        logger.addFilter(StackNoiseLogFilter())


def ignore_stack_noise() -> None:
    """Hide the :data:`STACK_NOISE` warnings for the rest of this process.

    For scripts only (``tools/``, ``demo/``): it changes the process's warning
    filters, so a library never calls it. Every other warning still prints.
    """
    for message, category, module in STACK_NOISE:
        warnings.filterwarnings('ignore', message=message, category=category, module=module)


@contextlib.contextmanager
def ignoring(message: str, category: type, module: str) -> Iterator[None]:
    """Ignore one warning inside the block, then remove exactly that filter.

    Unlike :class:`warnings.catch_warnings`, filters that code run in the
    block adds (e.g. a library's own filters at its import) stay in place.
    If the same filter was already set, it is back where it was afterwards.

    Args:
        message (str): Regular expression the warning's message must match.
        category (type): Warning class.
        module (str): Regular expression the emitting module must match.
    """
    before = list(warnings.filters)
    warnings.filterwarnings('ignore', message=message, category=category, module=module)
    entry = warnings.filters[0]
    # filterwarnings moved an identical filter to the front: remember what followed it
    after = before[before.index(entry) + 1:] if entry in before else None
    try:
        yield
    finally:
        if entry in warnings.filters:
            warnings.filters.remove(entry)
        if after is not None:
            successor = next((f for f in after if f in warnings.filters), None)
            pos = warnings.filters.index(successor) if successor else len(warnings.filters)
            warnings.filters.insert(pos, entry)
        getattr(warnings, '_filters_mutated', lambda: None)()
