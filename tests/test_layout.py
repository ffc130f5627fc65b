"""The package layout: importing ``bevt_mm`` loads only the plugin (no analysis, benchmark,
demo, toy-data or plotting code), every import inside ``bevt_mm`` points down the layers, the
scripts share code through the package (no ``sys.path`` edits) and the library's text holds no
lab notebook (dates, measurements, ``make`` targets)."""
import ast
import glob
import os.path as osp
import re
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
    {'bevt_mm.analysis'},  # what tools/analysis and demo/ compute; imported by no bevt_mm layer
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


@pytest.mark.slow
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


def _edits_sys_path(path: str) -> bool:
    """Whether the file assigns to, or calls a method of, ``sys.path``."""
    def is_sys_path(node):
        return (isinstance(node, ast.Attribute) and node.attr == 'path'
                and isinstance(node.value, ast.Name) and node.value.id == 'sys')

    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and is_sys_path(node.func.value):
            return True  # sys.path.insert / append / extend / remove
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            if is_sys_path(t) or isinstance(t, ast.Subscript) and is_sys_path(t.value):
                return True
    return False


def test_no_script_edits_sys_path():
    """Scripts import bevt_mm as installed and share code through it, not through each other."""
    files = glob.glob(osp.join(ROOT, 'tools', '**', '*.py'), recursive=True) + \
        glob.glob(osp.join(ROOT, 'demo', '**', '*.py'), recursive=True)
    editing = sorted(osp.relpath(p, ROOT) for p in files if _edits_sys_path(p))
    assert not editing, (f'{editing} edit sys.path: move the shared helpers into bevt_mm (e.g. '
                         'bevt_mm.analysis) and import them from there')
    assert len(files) > 20 and _edits_sys_path(osp.join(ROOT, 'tests', 'test_layout.py')) is False


@pytest.mark.parametrize('code, edits', [
    ('import sys\nsys.path.insert(0, "x")\n', True),
    ('import sys\nsys.path[:0] = ["x"]\n', True),
    ('import sys\nsys.path += ["x"]\n', True),
    ('import sys\nprint(sys.path[0])\n', False),
])
def test_sys_path_edit_detection(tmp_path, code, edits):
    (tmp_path / 'script.py').write_text(code)
    assert _edits_sys_path(str(tmp_path / 'script.py')) is edits


def _make_targets():
    """The Makefile's targets (and a few common ones it may gain)."""
    with open(osp.join(ROOT, 'Makefile')) as f:
        targets = set(re.findall(r'^([A-Za-z][\w-]*):', f.read(), re.MULTILINE))
    return sorted(targets | {'demo', 'test', 'venv', 'drn', 'ci', 'lint'}, key=len, reverse=True)


#: lab-notebook text in bevt_mm/: a date or clock time, a `make` target a pip user does not
#: have, a measurement
LAB_NOTEBOOK = re.compile(r'\b20\d\d-\d\d-\d\d\b|\b\d\d:\d\d UTC\b'
                          r'|\bmake (' + '|'.join(map(re.escape, _make_targets())) + r')\b'
                          r'|\bmeasured on\b|\b(was|were) measured\b', re.IGNORECASE)


def _lab_notebook_lines(path: str):
    with open(path, encoding='utf-8') as f:
        return [f'{osp.relpath(path, ROOT)}:{i}: {line.strip()}'
                for i, line in enumerate(f, 1) if LAB_NOTEBOOK.search(line)]


def test_library_text_has_no_dates_measurements_or_make_targets():
    """Comments and messages in bevt_mm/ explain the code; measurements, dates and history
    belong in docs/ with the command that gives them."""
    found = []
    for path in sorted(glob.glob(osp.join(PKG, '**', '*.py'), recursive=True)):
        found += _lab_notebook_lines(path)
    assert not found, 'lab-notebook text in bevt_mm/ (move it to docs/):\n' + '\n'.join(found)


@pytest.mark.parametrize('line, flagged', [
    ('# measured on 2 cores: 40 us', True),
    ('    was measured about 10x slower', True),
    ("('install it with `make venv`')", True),
    ('# 2026-12-01: toy recipe', True),
    ('# run at 05:36 UTC', True),
    ('see `make clean-venv`', True),
    ('make the toy data (tools/make_toy_data.py)', False),
    ('the matmul rate measured in the same run', False),
])
def test_lab_notebook_pattern(line, flagged):
    assert bool(LAB_NOTEBOOK.search(line)) is flagged
