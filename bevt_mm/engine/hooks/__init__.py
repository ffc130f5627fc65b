from .accumulated_grads import AccumulatedGradsHook
from .non_finite_loss import NonFiniteLossHook
from .num_classes_check import NumClassesCheckHook
from .probe_hook import ProbeHook
from .resume import ResumeHook
from .rng_state import RNGStateHook

__all__ = ['AccumulatedGradsHook', 'NonFiniteLossHook', 'NumClassesCheckHook', 'ProbeHook',
           'ResumeHook', 'RNGStateHook']
