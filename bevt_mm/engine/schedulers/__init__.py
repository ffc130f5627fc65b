from .mmcv_linear_warmup import MMCVLinearWarmupLR

__all__ = ['MMCVLinearWarmupLR']
