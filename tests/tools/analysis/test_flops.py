"""tools/analysis/flops.py: the counted formula and the CLI."""
import os.path as osp

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY_ARCH = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2])


def test_counted_flops_match_torch_counter():
    """The Swin formula equals torch's FLOP counter on the explicit-attention form."""
    import bevt_mm  # noqa: F401
    from mmaction.registry import MODELS

    from bevt_mm.analysis.flops import counted_flops, swin_forward_flops
    bb = MODELS.build(dict(type='BEVTSwinTransformer3D', arch=TINY_ARCH, window_size=(2, 4, 4),
                           fused_attention=False, final_norm=False))
    with torch.no_grad():
        for shape, image in (((3, 6, 40, 48), False), ((3, 40, 48), True)):
            x = torch.randn((1, ) + shape)
            counted = counted_flops(bb.forward_pretrain, x)
            assert counted == swin_forward_flops(bb, shape[1:], image=image)['total']


def test_cli_prints_the_step_of_the_toy_config(capsys, load_tool):
    fl = load_tool('analysis/flops.py').main([osp.join(ROOT, 'configs/toy/toy_joint_swin.py')])
    assert fl['step'] > fl['video_backbone_fwd'] > 0 and fl['image_backbone_fwd'] > 0
    assert 'video_backbone_fwd' in capsys.readouterr().out
