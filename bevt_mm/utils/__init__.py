"""Low-level helpers shared by every layer (models, datasets, engine, compat).

Safe checkpoint loading (:mod:`.safe_load`) and reading and converting
checkpoints (:mod:`.checkpoint`: export, image -> joint, the authors' layout,
TimeSformer, the backbone match check). They depend on torch, mmengine and
MMAction2 only, never on a bevt_mm layer above.
"""
from .checkpoint import (BackboneCheckpointError, bevt_to_mmaction_swin,
                         bevt_to_mmaction_timesformer, check_backbone_match,
                         convert_authors_bevt, get_state_dict, image_to_joint,
                         image_to_joint_checkpoint, relative_position_index,
                         resize_relative_table, resize_time_embed, swin2d_to_bevt,
                         table_window)
from .safe_load import UntrustedCheckpointError, load_checkpoint_file

__all__ = ['BackboneCheckpointError', 'check_backbone_match', 'bevt_to_mmaction_swin',
           'bevt_to_mmaction_timesformer', 'resize_time_embed', 'convert_authors_bevt',
           'get_state_dict', 'image_to_joint', 'image_to_joint_checkpoint',
           'relative_position_index', 'resize_relative_table', 'swin2d_to_bevt',
           'table_window', 'UntrustedCheckpointError', 'load_checkpoint_file']
