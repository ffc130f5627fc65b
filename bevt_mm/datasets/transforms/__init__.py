
from .temporal import ShuffleFrames, SingleFrame  # noqa: F401,E402
