"""The package layout: importing ``bevt_mm`` loads only the plugin (no analysis, benchmark,
demo, toy-data or plotting code), and every import inside ``bevt_mm`` points down the layers."""
import ast
import glob
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PKG = osp.join(ROOT, 'bevt_mm')

#: the layers of bevt_mm, lowest first; a module may import its own layer and the ones below
LAYERS = [
    {'bevt_mm.version', 'bevt_mm.compat', 'bevt_mm.utils'},
    {'bevt_mm.datasets', 'bevt_mm.models'},
    {'bevt_mm.evaluation'},
    {'bevt_mm.engine'},
    {'bevt_mm'},  # the package __init__: registers everything
    {'bevt_mm.testing'},  # toy data for tests and the demo; imported by no layer above
]
#: peers that must not import each other (the data pipeline knows no model and vice versa)
PEERS = [('bevt_mm.datasets', 'bevt_mm.models'), ('bevt_mm.models', 'bevt_mm.datasets')]


def _unit(module: str) -> str:
    """The layer unit of a dotted bevt_mm module name (``bevt_mm.models.heads.x`` -> models)."""
    parts = module.split('.')
    return '.'.join(parts[:2])


def _layer(unit: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f'{unit} is in no layer of tests/test_layout.py: add it to LAYERS')


def _module_name(path: str) -> str:
    rel = osp.relpath(path, ROOT)[:-3].replace(osp.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def _imports(path: str):
    """(line, imported dotted name) of every import in the file, lazy ones included."""
    module = _module_name(path)
    package = module if path.endswith('__init__.py') else module.rsplit('.', 1)[0]
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            yield node.lineno, name
            for alias in node.names:  # `from . import engine` names a submodule
                yield node.lineno, f'{name}.{alias.name}'


def _tool_module_names():
    """Top-level module names that only exist as scripts (tools/, demo/)."""
    files = glob.glob(osp.join(ROOT, 'tools', '**', '*.py'), recursive=True) + \
        glob.glob(osp.join(ROOT, 'demo', '*.py'))
    return {osp.splitext(osp.basename(p))[0] for p in files}


def test_importing_bevt_mm_loads_no_analysis_demo_toy_or_plotting_module():
    code = ('import sys, bevt_mm; '
            'print("\\n".join(f"{n} {getattr(m, \'__file__\', None)}" '
            'for n, m in list(sys.modules.items())))')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split('\n')
    loaded = dict(line.split(' ', 1) for line in out if line)
    tools = _tool_module_names()
    bad = sorted(
        name for name, path in loaded.items()
        if name.split('.')[0] in {'matplotlib', 'benchmark', 'demo'} | tools
        or name.startswith(('bevt_mm.analysis', 'bevt_mm.testing'))
        or 'toy' in name.split('.')[-1]
        or (path != 'None' and path.startswith((osp.join(ROOT, 'tools') + osp.sep,
                                                 osp.join(ROOT, 'demo') + osp.sep))))
    assert not bad, f'`import bevt_mm` loads {bad}'
    assert 'bevt_mm.evaluation' in loaded and 'bevt_mm.engine' in loaded


def test_no_module_imports_a_layer_above_it():
    tools = _tool_module_names()
    wrong = []
    for path in sorted(glob.glob(osp.join(PKG, '**', '*.py'), recursive=True)):
        here = _unit(_module_name(path))
        for line, name in _imports(path):
            where = f'{osp.relpath(path, ROOT)}:{line} imports {name}'
            if name.split('.')[0] in tools:
                wrong.append(f'{where} (a script under tools/ or demo/)')
            if not name.startswith('bevt_mm'):
                continue
            there = _unit(name)
            if there == here:
                continue
            if _layer(there) > _layer(here) or (here, there) in PEERS:
                wrong.append(where)
    assert not wrong, 'imports pointing up the layers:\n' + '\n'.join(wrong)


@pytest.mark.parametrize('source, target, allowed', [
    ('bevt_mm.models.tokenizers.dalle', 'bevt_mm.engine.hooks', False),
    ('bevt_mm.datasets.robust', 'bevt_mm.models', False),
    ('bevt_mm.engine.hooks.probe_hook', 'bevt_mm.evaluation.knn', True),
    ('bevt_mm.evaluation.features', 'bevt_mm.engine', False),
    ('bevt_mm.models.tokenizers.base', 'bevt_mm.utils.safe_load', True),
])
def test_layer_rule_itself(source, target, allowed):
    here, there = _unit(source), _unit(target)
    ok = there == here or (_layer(there) <= _layer(here) and (here, there) not in PEERS)
    assert ok == allowed
