"""`import bevt_mm` replaces at most 3 attributes of the stock stack, each a documented crash fix.

A fresh interpreter imports torch, mmengine, mmcv, mmaction and mmpretrain, records the identity of
every module attribute and every attribute of the classes those modules define (and sys.modules),
imports bevt_mm, and reports what was rebound. New names (BEVT's registered types, modules) are
not replacements; a rebound name is.
"""
import json
import os.path as osp
import subprocess
import sys

import pytest

from bevt_mm import compat

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

SNAPSHOT = r'''
import inspect, json, sys, warnings
warnings.filterwarnings('ignore')
import torch, torch.serialization
import mmengine, mmengine.runner, mmengine.runner.checkpoint, mmengine.dist.utils
import mmengine.config, mmengine.hub, mmengine.utils
import mmcv
import mmaction.models, mmaction.datasets, mmaction.engine, mmaction.evaluation
import mmpretrain.models
PKGS = ('torch', 'mmengine', 'mmcv', 'mmaction', 'mmpretrain')

def snapshot():
    snap = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split('.')[0] not in PKGS:
            continue
        snap['sys.modules.' + name] = id(mod)
        try:
            items = list(vars(mod).items())
        except TypeError:
            continue
        for attr, val in items:
            if attr.startswith('__'):
                continue
            snap[f'{name}.{attr}'] = id(val)
            if inspect.isclass(val) and val.__module__ == name:
                for k, v in list(vars(val).items()):
                    if not k.startswith('__') or k in ('__init__', '__call__', '__new__'):
                        snap[f'{name}.{attr}.{k}'] = id(v)
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefix, fn in CheckpointLoader._schemes.items():
        snap[f'CheckpointLoader._schemes[{prefix!r}]'] = id(fn)
    return snap

before = snapshot()
import bevt_mm
after = snapshot()
print(json.dumps(sorted(k for k in before if k in after and after[k] != before[k])))
'''

#: each attribute `import bevt_mm` may replace, and the fix it belongs to (bevt_mm/compat.py)
CRASH_FIXES = {
    'mmaction.models.heads.base.BaseHead.loss_by_feat': 'bf16 scores',
    'mmengine.dist.utils._init_dist_pytorch': 'init_dist without CUDA',
    'torch._weights_only_unpickler._marked_safe_globals_set': 'checkpoint allowlist',
}
#: replaced only where pkg_resources is missing (not in the project's environment)
PKG_RESOURCES_FIX = {f'{module}.{name}' for module in (
    'mmengine.utils', 'mmengine.utils.package_utils', 'mmengine.config.config', 'mmengine.hub.hub')
    for name in ('is_installed', 'get_installed_path')}


@pytest.mark.slow
def test_import_replaces_at_most_three_stock_attributes_each_a_documented_crash_fix():
    proc = subprocess.run([sys.executable, '-c', SNAPSHOT], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    replaced = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    unexpected = replaced - set(CRASH_FIXES) - PKG_RESOURCES_FIX
    assert not unexpected, f'import bevt_mm replaced stock attributes: {sorted(unexpected)}'
    assert len(replaced - PKG_RESOURCES_FIX) <= 3
    if 'pkg_resources_lookup' not in compat.APPLIED:  # pkg_resources is there: nothing replaced
        assert not replaced & PKG_RESOURCES_FIX
    docs = open(osp.join(ROOT, 'docs', 'architecture.md')).read()
    for attribute in replaced - PKG_RESOURCES_FIX:
        assert attribute.split('.')[-1] in docs, f'{attribute} is not in docs/architecture.md'
