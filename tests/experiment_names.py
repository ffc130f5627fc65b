"""A unique ``experiment_name`` for every Runner a test builds in the test process.

mmengine names a Runner's logger, visualizer and message hub
``<experiment_name>_<timestamp>`` (timestamp to the second; without a name,
the config file's name or the timestamp alone) and returns the existing
instance of a name: a Runner built in the same second as an earlier one of
the process writes its log and ``scalars.json`` into the earlier one's work dir.
Every Runner a test builds takes :func:`experiment_name` instead
(``Runner(..., experiment_name=experiment_name('x'))`` or
``cfg.experiment_name = experiment_name('x')``).
"""
import itertools

_COUNT = itertools.count()


def experiment_name(prefix: str = 'test') -> str:
    """``<prefix>_<n>``, with ``n`` counting up within the process."""
    return f'{prefix}_{next(_COUNT)}'
