"""The documented mim commands run MMAction2's own tools (not ours, so bevt_mm's
in-memory shims do not apply): a stock Swin config with our exported encoder,
tested for real on CPU at a tiny size."""
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MIM = osp.join(osp.dirname(sys.executable), 'mim')
STOCK = ('mmaction::recognition/swin/'
         'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
ARCH = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1])

pytestmark = pytest.mark.skipif(not osp.exists(MIM) and shutil.which('mim') is None,
                                reason='openmim is not installed (make venv installs it)')


def _write_mp4(path: str, seed: int) -> None:
    import av
    import numpy as np
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    with av.open(path, mode='w') as container:
        stream = container.add_stream('libx264', rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, 'yuv420p'
        for t in range(12):
            frame = av.VideoFrame.from_ndarray(np.roll(base, 3 * t, axis=1), format='rgb24')
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.fixture(scope='module')
def stock_tiny(tmp_path_factory):
    """A tiny config on MMAction2's Swin-T K400 recipe, two clips, our export."""
    from bevt_mm.models.backbones import BEVTSwinTransformer3D
    from bevt_mm.utils import bevt_to_mmaction_swin
    root = tmp_path_factory.mktemp('mim')
    for i in range(2):
        _write_mp4(str(root / f'v{i}.mp4'), seed=i)
    (root / 'list.txt').write_text('v0.mp4 0\nv1.mp4 1\n')
    torch.manual_seed(0)
    backbone = BEVTSwinTransformer3D(arch=ARCH, window_size=(2, 4, 4), final_norm=False)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    export = str(root / 'export.pth')
    torch.save(dict(state_dict=bevt_to_mmaction_swin(state, (2, 4, 4), norm3='fresh')), export)
    pipeline = [dict(type='DecordInit'),
                dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
                     test_mode=True),
                dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 32)),
                dict(type='CenterCrop', crop_size=32),
                dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
    config = root / 'tiny_stock_swin.py'
    config.write_text(
        f'_base_ = [{STOCK!r}]\n'
        f'model = dict(backbone=dict(arch=dict(_delete_=True, **{ARCH!r}), '
        'window_size=(2, 4, 4), pretrained=None), '
        'cls_head=dict(in_channels=128, num_classes=2))\n'
        f'test_pipeline = {pipeline!r}\n'
        'test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False, '
        f'dataset=dict(ann_file={str(root / "list.txt")!r}, '
        f'data_prefix=dict(video={str(root)!r}), pipeline=test_pipeline))\n')
    return dict(root=root, config=str(config), export=export)


def test_mim_test_runs_a_stock_swin_config_with_our_export(stock_tiny):
    mim = MIM if osp.exists(MIM) else shutil.which('mim')
    proc = subprocess.run(
        [mim, 'test', 'mmaction2', stock_tiny['config'], '--checkpoint', stock_tiny['export'],
         '--work-dir', str(stock_tiny['root'] / 'work')],
        cwd=str(stock_tiny['root']), capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert 'mmaction.models.localizers.drn' not in out, (
        'MMAction2\'s tools cannot import mmaction.models: install the missing folder with '
        '`pip install ./packaging/mmaction2-drn-stub` (make venv does)\n' + out[-3000:])
    assert proc.returncode == 0, out[-5000:]
    assert 'acc/top1' in out
