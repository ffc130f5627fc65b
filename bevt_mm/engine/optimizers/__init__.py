from .frozen_params import FrozenAwareOptimWrapperConstructor, frozen_modules
from .swin_layer_decay import SwinLayerDecayOptimWrapperConstructor, video_swin_layer_depth

__all__ = ['SwinLayerDecayOptimWrapperConstructor', 'video_swin_layer_depth',
           'FrozenAwareOptimWrapperConstructor', 'frozen_modules']
