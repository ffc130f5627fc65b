from .frozen_params import FrozenAwareOptimWrapperConstructor, frozen_modules
from .swin_layer_decay import (SwinLayerDecayOptimWrapperConstructor,
                               released_swin_lr_decay_keys, video_swin_layer_depth)

__all__ = ['SwinLayerDecayOptimWrapperConstructor', 'released_swin_lr_decay_keys',
           'video_swin_layer_depth', 'FrozenAwareOptimWrapperConstructor', 'frozen_modules']
