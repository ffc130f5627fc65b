"""A backbone export given where a recognizer checkpoint belongs (``mim test CONFIG
--checkpoint bevt_backbone.pth``) is refused with the fix: the export is the
``model.backbone.pretrained=`` of a fine-tuning run, and the test takes that run's epoch file.

The reported fault: the refusal said ``Checkpoint keys look like []`` (the keys under
``backbone.``, of which the export has none) and told the user to convert the export again.
"""
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.runner.checkpoint import load_checkpoint

import bevt_mm  # noqa: F401  (registers the BEVT types)
from bevt_mm.utils.checkpoint import BackboneCheckpointError

TINY = dict(type='Recognizer3D',
            backbone=dict(type='BEVTFinetuneSwinTransformer3D', pretrained2d=False,
                          arch=dict(embed_dims=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1]),
                          window_size=(2, 2, 2)),
            cls_head=dict(type='I3DHead', in_channels=64, num_classes=2))


def test_backbone_export_as_recognizer_checkpoint_names_the_fix(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(TINY)
    export = tmp_path / 'bevt_backbone.pth'
    torch.save(dict(state_dict=model.backbone.state_dict()), export)  # what the exporter writes
    with pytest.raises(BackboneCheckpointError) as err:
        load_checkpoint(model, str(export))
    msg = str(err.value)
    assert 'look like []' not in msg and "no key starts with 'backbone.'" in msg
    assert 'model.backbone.pretrained=' in msg and 'epoch_' in msg
    assert 'bevt_to_mmaction_swin' not in msg  # converting the export again is not the fix


def test_recognizer_checkpoint_still_loads(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(TINY)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    other = MODELS.build(TINY)
    load_checkpoint(other, str(path))
    for k, v in model.state_dict().items():
        assert torch.equal(v, other.state_dict()[k]), k
