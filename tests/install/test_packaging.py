"""Packaging: tested ranges in setup.cfg, the exact stack in the constraints file,
and what bevt_mm needs at run time (mmcv check, configs without pkg_resources)."""
import configparser
import os.path as osp
import subprocess
import sys

import pytest
from packaging.requirements import Requirement

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _install_requires():
    cfg = configparser.ConfigParser()
    cfg.read(osp.join(ROOT, 'setup.cfg'))
    lines = cfg['options']['install_requires'].strip().splitlines()
    return [Requirement(line.strip()) for line in lines if line.strip()]


def _constraints():
    pins = {}
    with open(osp.join(ROOT, 'requirements', 'constraints.txt')) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                name, _, version = line.partition('==')
                assert version, f'constraints.txt: {line!r} is not an exact pin'
                pins[name.lower().replace('_', '-')] = version
    return pins


def test_install_requires_are_ranges_that_hold_the_measured_stack():
    pins = _constraints()
    for req in _install_requires():
        assert not any(s.operator in ('==', '===') for s in req.specifier), \
            f'{req}: install_requires holds ranges, exact pins go to constraints.txt'
        name = req.name.lower()
        assert name in pins, f'{req.name} is required but not pinned in constraints.txt'
        assert req.specifier.contains(pins[name], prereleases=True), \
            f'constraints.txt pins {name}=={pins[name]} outside setup.cfg\'s {req}'


def test_mmcv_is_not_required_so_a_full_mmcv_is_not_overwritten():
    names = {req.name.lower() for req in _install_requires()}
    assert not names & {'mmcv', 'mmcv-lite', 'mmcv-full'}
    assert 'mmcv-lite' in _constraints()


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_import_without_mmcv_says_what_to_install():
    proc = _run("import sys; sys.modules['mmcv'] = None; import bevt_mm")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert 'mmcv is not installed' in last and 'mmcv-lite' in last, proc.stderr[-2000:]


NO_PKG_RESOURCES_CONFIGS = ['configs/toy/toy_finetune_swin_spatial.py',
                            'configs/bevt/finetune_swin_b_k400.py']


@pytest.fixture(scope='module')
def no_pkg_resources_run():
    """One fresh interpreter without pkg_resources loads every config of the list (one
    interpreter start for all of them): its stdout has one line per config."""
    return _run("import sys; sys.modules['pkg_resources'] = None\n"
                "import bevt_mm\n"
                "from mmengine.config import Config\n"
                f"for path in {NO_PKG_RESOURCES_CONFIGS!r}:\n"
                "    cfg = Config.fromfile(path)\n"
                "    print(path, cfg.model.backbone.type, "
                "'pkg_resources_lookup' in bevt_mm.compat.APPLIED)\n")


@pytest.mark.slow
@pytest.mark.parametrize('config', NO_PKG_RESOURCES_CONFIGS)
def test_configs_load_without_pkg_resources(config, no_pkg_resources_run):
    """setuptools >= 81 ships no pkg_resources; `mmaction::` bases still resolve."""
    proc = no_pkg_resources_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line, ) = [ln for ln in proc.stdout.splitlines() if ln.startswith(config + ' ')]
    assert line.split()[-1] == 'True'


def test_installed_path_lookup_matches_mmengine():
    from mmengine.utils import get_installed_path, is_installed

    from bevt_mm import compat
    if getattr(get_installed_path, '_bevt_patched', False):
        pytest.skip('no pkg_resources here: nothing to compare with')
    for package in ('mmaction2', 'mmengine', 'mmpretrain', 'torch'):
        assert compat._get_installed_path(package) == get_installed_path(package)
        assert compat._is_installed(package) is is_installed(package) is True
    assert compat._is_installed('no_such_package_bevt') is False
