"""An exported BEVT encoder in a stock MMAction2 Swin recipe (which sets
``pretrained2d=True``): the documented change (the backbone type + ``custom_imports``)
loads it; the stock types behave as stock with or without ``import bevt_mm``."""
import json
import os.path as osp
import subprocess
import sys

import mmaction
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from bevt_mm.models.backbones import BEVTSwinTransformer3D
from bevt_mm.utils.checkpoint import bevt_to_mmaction_swin

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STOCK = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'recognition', 'swin',
                 'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
ARCH = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1])


@pytest.fixture(scope='module')
def export(tmp_path_factory):
    torch.manual_seed(0)
    backbone = BEVTSwinTransformer3D(arch=ARCH, window_size=(8, 7, 7), final_norm=False)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    path = str(tmp_path_factory.mktemp('export') / 'bevt_backbone.pth')
    torch.save(dict(state_dict=bevt_to_mmaction_swin(state, (8, 7, 7), norm3='fresh')), path)
    return path, backbone


def _stock(pretrained=None) -> Config:
    cfg = Config.fromfile(STOCK)
    cfg.model.backbone.arch = dict(ARCH)
    cfg.model.cls_head.in_channels = 128
    cfg.model.backbone.pretrained = pretrained
    assert cfg.model.backbone.pretrained2d is True
    return cfg


def test_the_documented_change_loads_the_export_into_a_stock_recipe(export):
    """``model.backbone.type='BEVTFinetuneSwinTransformer3D'``, nothing else: the 3D file
    is loaded as 3D with a warning (stock Swin: ``KeyError: 'model'``)."""
    path, ours = export
    cfg = _stock(path)
    cfg.model.backbone.type = 'BEVTFinetuneSwinTransformer3D'
    model = MODELS.build(cfg.model)
    with pytest.warns(UserWarning, match='pretrained2d=False'):
        model.init_weights()
    exported = torch.load(path, weights_only=True)['state_dict']
    loaded = model.backbone.state_dict()
    assert len(loaded) > 10 and set(loaded) <= set(exported)
    for key, value in loaded.items():
        torch.testing.assert_close(value, exported[key])
    torch.testing.assert_close(loaded['patch_embed.proj.weight'], ours.patch_embed.proj.weight)


def test_stock_swin_keeps_its_own_pretrained2d_behaviour(export):
    """With bevt_mm imported, stock SwinTransformer3D(pretrained2d=True) still expects a
    2D ImageNet Swin, as without the plugin."""
    model = MODELS.build(_stock(export[0]).model)
    assert type(model.backbone).__name__ == 'SwinTransformer3D'
    with pytest.raises(KeyError, match='model'):
        model.init_weights()


_PARTIAL_LOAD = '''
import json, sys, warnings
import torch
if sys.argv[1] == 'plugin':
    import bevt_mm  # noqa: F401
from mmaction.models.backbones import SwinTransformer3D, TimeSformer
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
init_default_scope('mmaction')  # TimeSformer builds its layers from MMAction2's registry
logs = []
logger = MMLogger.get_instance('partial_load_' + sys.argv[1])
logger.handlers.clear()
logger.addHandler(type('H', (__import__('logging').Handler,), {
    'emit': lambda self, record: logs.append(record.getMessage())})())
out = {}
for name, build in (
        ('swin', lambda p: SwinTransformer3D(arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                                                       num_heads=[1, 1, 1, 1]),
                                             window_size=(2, 4, 4), pretrained=p,
                                             pretrained2d=False)),
        ('timesformer', lambda p: TimeSformer(num_frames=2, img_size=32, patch_size=16,
                                              embed_dims=16, num_heads=2,
                                              num_transformer_layers=1, pretrained=p))):
    torch.manual_seed(0)
    source = build(None).state_dict()
    keys = sorted(source)[:3]
    path = sys.argv[2] + '/' + name + '.pth'
    torch.save(dict(state_dict={k: source[k] + 1 for k in keys}), path)
    torch.manual_seed(1)
    model = build(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model.init_weights()
    out[name] = dict(sums={k: float(v.double().sum()) for k, v in model.state_dict().items()},
                     warnings=sorted(str(w.message) for w in caught))
out['logs'] = [m for m in logs if 'missing' in m or 'unexpected' in m]
print('RESULT' + json.dumps(out))
'''


def _partial_load(mode: str, tmp_path) -> dict:
    proc = subprocess.run([sys.executable, '-c', _PARTIAL_LOAD, mode, str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith('RESULT'))
    return json.loads(line[len('RESULT'):])


@pytest.mark.slow
def test_stock_backbones_load_a_partial_checkpoint_as_without_the_plugin(tmp_path):
    """Stock SwinTransformer3D / TimeSformer given a checkpoint with 3 of their tensors:
    the same tensors, warnings and log lines with and without ``import bevt_mm``."""
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    without = _partial_load('stock', tmp_path / 'a')
    with_plugin = _partial_load('plugin', tmp_path / 'b')
    for name in ('swin', 'timesformer'):
        assert with_plugin[name]['sums'] == pytest.approx(without[name]['sums']), name
        assert with_plugin[name]['warnings'] == without[name]['warnings'], name
    assert without['logs'] and with_plugin['logs'] == without['logs']


def test_probe_builds_a_stock_swin_recognizer():
    from bevt_mm.analysis.probe import build_recognizer  # tools/analysis/probe.py's recognizer
    model = build_recognizer(_stock())  # inflated None before
    assert type(model.backbone).__name__ == 'SwinTransformer3D'
