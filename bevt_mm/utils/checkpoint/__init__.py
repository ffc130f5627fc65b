"""Reading and converting checkpoints, one concept per module.

* :mod:`.state_dict`: the state dict inside a checkpoint, key revision and
  prefixes as mmengine's ``load_checkpoint`` does them.
* :mod:`.swin`: relative position tables (window read from their size,
  resize, index), 2D Swin -> BEVT, image stream -> joint, and the export of a
  BEVT pretraining checkpoint to MMAction2's ``SwinTransformer3D``.
* :mod:`.timesformer`: the export to MMAction2's ``TimeSformer``.
* :mod:`.authors`: the authors' released layout -> ours.
* :mod:`.backbone_match`: how many of a backbone's tensors a checkpoint
  provides; fewer than half is :class:`BackboneCheckpointError`.
* :mod:`.files`: reading and writing files for ``tools/convert/*``.

The BEVT backbones call these from their loading; ``tools/convert/*`` are thin
command lines over them.
"""
from .authors import convert_authors_bevt
from .backbone_match import (MIN_MATCH, BackboneCheckpointError, check_backbone_match,
                             is_pretraining_checkpoint, match_backbone)
from .files import read_checkpoint, write_state_dict
from .state_dict import get_state_dict, revise_keys, select_prefix
from .swin import (bevt_to_mmaction_swin, decoder_norm, image_to_joint,
                   image_to_joint_checkpoint, relative_position_index,
                   resize_relative_table, swin2d_to_bevt, table_window)
from .timesformer import bevt_to_mmaction_timesformer, resize_time_embed

__all__ = ['convert_authors_bevt', 'MIN_MATCH', 'BackboneCheckpointError',
           'check_backbone_match', 'is_pretraining_checkpoint', 'match_backbone',
           'read_checkpoint', 'write_state_dict', 'get_state_dict', 'revise_keys',
           'select_prefix', 'bevt_to_mmaction_swin', 'decoder_norm', 'image_to_joint',
           'image_to_joint_checkpoint', 'relative_position_index', 'resize_relative_table',
           'swin2d_to_bevt', 'table_window', 'bevt_to_mmaction_timesformer',
           'resize_time_embed']
