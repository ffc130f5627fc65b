from .non_finite_loss import NonFiniteLossHook
from .rng_state import RNGStateHook

__all__ = ['NonFiniteLossHook', 'RNGStateHook']
