from .mmcv_linear_warmup import MMCVLinearWarmupLR
from .run_cosine import RunCosineAnnealingLR

__all__ = ['MMCVLinearWarmupLR', 'RunCosineAnnealingLR']
