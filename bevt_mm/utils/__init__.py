"""Low-level helpers shared by every layer (models, datasets, engine, compat).

Safe checkpoint loading, the checkpoint converters (export, image -> joint, the authors'
layout, TimeSformer) and the checked backbone loading that the fine-tuning recipes use.
They depend on torch and MMAction2's classes only, never on a bevt_mm layer above.
"""
from .backbone_load import BackboneCheckpointError, check_backbone_match, prepare_backbone_state
from .checkpoint_convert import (bevt_to_mmaction_swin, convert_authors_bevt, get_state_dict,
                                 image_to_joint, image_to_joint_checkpoint,
                                 relative_position_index, resize_relative_table, swin2d_to_bevt)
from .safe_load import UntrustedCheckpointError, load_checkpoint_file
from .timesformer_convert import bevt_to_mmaction_timesformer, resize_time_embed

__all__ = ['BackboneCheckpointError', 'check_backbone_match', 'prepare_backbone_state',
           'bevt_to_mmaction_swin', 'bevt_to_mmaction_timesformer', 'resize_time_embed',
           'convert_authors_bevt', 'get_state_dict', 'image_to_joint',
           'image_to_joint_checkpoint', 'relative_position_index', 'resize_relative_table',
           'swin2d_to_bevt', 'UntrustedCheckpointError', 'load_checkpoint_file']
