"""``DRN`` that explains why it is missing (see the package docstring)."""
from mmengine.model import BaseModel

from mmaction.registry import MODELS

MESSAGE = ('DRN is not available: the mmaction2 1.2.0 wheel on PyPI ships without '
           '`mmaction/models/localizers/drn` (open-mmlab/mmaction2#2714) and the package '
           'mmaction2-drn-stub only lets `import mmaction.models` succeed. Install '
           'mmaction2 from source to use DRN.')


@MODELS.register_module()
class DRN(BaseModel):
    """Stand-in for MMAction2's DRN localizer; building it raises ImportError."""

    def __init__(self, *args, **kwargs) -> None:
        raise ImportError(MESSAGE)

    def forward(self, *args, **kwargs):  # pragma: no cover - never built
        """Never reached: defined so the class is not abstract and building it
        raises the ImportError above instead of a TypeError."""
        raise ImportError(MESSAGE)
