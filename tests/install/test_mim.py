"""The documented stock-recipe change under MMAction2's own tools (``mim train`` / ``mim
test``, which import bevt_mm only through the config's ``custom_imports``): a small config
file that inherits MMAction2's installed Swin-T K400 recipe FILE and changes what
docs/usage.md says (``custom_imports`` + the backbone type), shrunk to run on CPU.

Fine-tune from our export, then test the trained checkpoint; each load logs how many of
the backbone's tensors it found. A checkpoint matching < 50 % of the backbone must stop
``mim test`` before any metric."""
import os.path as osp
import re
import shutil
import subprocess
import sys

import mmaction
import pytest
import torch

MIM = osp.join(osp.dirname(sys.executable), 'mim')
STOCK = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'recognition', 'swin',
                 'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
ARCH = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1])
FOUND = re.compile(r'(\d+) of (\d+) tensors of the BEVTFinetuneSwinTransformer3D backbone found')

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not osp.exists(MIM) and shutil.which('mim') is None,
                                 reason='openmim is not installed (make venv installs it)')]


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


def _export(path: str) -> None:
    """A BEVT pretraining backbone exported by bevt_to_mmaction_swin."""
    from bevt_mm.models.backbones import BEVTSwinTransformer3D
    from bevt_mm.utils.checkpoint import bevt_to_mmaction_swin
    torch.manual_seed(0)
    backbone = BEVTSwinTransformer3D(arch=ARCH, window_size=(2, 4, 4), final_norm=False)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    torch.save(dict(state_dict=bevt_to_mmaction_swin(state, norm3='fresh')), path)


@pytest.fixture(scope='module')
def stock_recipe(tmp_path_factory):
    """The derived config file, two clips and our export."""
    root = tmp_path_factory.mktemp('mim')
    for i in range(2):
        _write_mp4(str(root / f'v{i}.mp4'), seed=i)
    (root / 'list.txt').write_text('v0.mp4 0\nv1.mp4 1\n')
    export = str(root / 'export.pth')
    _export(export)
    pipeline = [dict(type='DecordInit'),
                dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1,
                     test_mode=True),
                dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 32)),
                dict(type='CenterCrop', crop_size=32),
                dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
    loader = ('dict(batch_size=2, num_workers=0, persistent_workers=False, '
              f'dataset=dict(ann_file={str(root / "list.txt")!r}, '
              f'data_prefix=dict(video={str(root)!r}), pipeline={pipeline!r}))')
    config = root / 'bevt_stock_swin.py'
    config.write_text(
        f'_base_ = [{STOCK!r}]\n'
        '# the documented change (docs/usage.md)\n'
        "custom_imports = dict(imports=['bevt_mm'], allow_failed_imports=False)\n"
        "model = dict(backbone=dict(type='BEVTFinetuneSwinTransformer3D', pretrained="
        f'{export!r},\n'
        '# shrunk to run on CPU\n'
        f'    arch=dict(_delete_=True, **{ARCH!r}), window_size=(2, 4, 4)),\n'
        '    cls_head=dict(in_channels=128, num_classes=2))\n'
        f'train_dataloader = {loader}\n'
        f'val_dataloader = {loader}\n'
        f'test_dataloader = {loader}\n'
        "train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_begin=2)\n"
        "optim_wrapper = dict(type='OptimWrapper')  # MMAction2's AMP wrapper needs a GPU\n"
        'default_hooks = dict(checkpoint=dict(interval=1))\n')
    return dict(root=root, config=str(config), export=export)


def _mim(*args: str, cwd) -> subprocess.CompletedProcess:
    mim = MIM if osp.exists(MIM) else shutil.which('mim')
    proc = subprocess.run([mim, *args], cwd=str(cwd), capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert 'mmaction.models.localizers.drn' not in out, (
        "MMAction2's tools cannot import mmaction.models: install the missing folder with "
        '`pip install ./packaging/mmaction2-drn-stub` (make venv does)\n' + out[-3000:])
    return proc


def _found(out: str):
    return [(int(a), int(b)) for a, b in FOUND.findall(out)]


def test_mim_train_then_test_a_stock_swin_recipe_with_the_bevt_encoder(stock_recipe):
    root, config = stock_recipe['root'], stock_recipe['config']
    work = root / 'work'
    train = _mim('train', 'mmaction2', config, '--work-dir', str(work), '--gpus', '0',
                 cwd=root)
    out = train.stdout + train.stderr
    assert train.returncode == 0, out[-5000:]
    exported = torch.load(stock_recipe['export'], weights_only=True)['state_dict']
    tensors = len([k for k in exported if not k.endswith('relative_position_index')])
    loads = _found(out)  # pretrained= (the export): every backbone tensor found
    assert loads and loads[0] == (tensors, tensors), (loads, tensors)
    test = _mim('test', 'mmaction2', config, '--checkpoint', str(work / 'epoch_1.pth'),
                '--work-dir', str(root / 'test'), cwd=root)
    out = test.stdout + test.stderr
    assert test.returncode == 0, out[-5000:]
    loads = _found(out)
    assert loads and loads[-1][0] == loads[-1][1] == loads[0][1], loads
    assert 'acc/top1' in out


def test_mim_test_stops_before_a_metric_when_the_backbone_does_not_load(stock_recipe):
    """The reported instance: the pretrained export itself as ``--checkpoint`` (backbone
    keys without the recognizer's ``backbone.`` prefix) loaded 0 weights and printed
    acc/top1."""
    root = stock_recipe['root']
    test = _mim('test', 'mmaction2', stock_recipe['config'], '--checkpoint',
                stock_recipe['export'], '--work-dir', str(root / 'refused'), cwd=root)
    out = test.stdout + test.stderr
    assert test.returncode != 0, out[-3000:]
    assert 'acc/top1' not in out and 'top1' not in out
    assert re.search(r'only 0 of the \d+ tensors of the BEVTFinetuneSwinTransformer3D', out), \
        out[-3000:]
    assert "no key starts with 'backbone.'" in out and 'model.backbone.pretrained=' in out
