"""Suite-wide set-up: register BEVT types and use MMAction2's registry scope."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope

import bevt_mm  # noqa: F401  (compat shims + registration)

# The CI machine has 2 cores; tests use tiny models and small inputs.
torch.set_num_threads(2)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def load_tool():
    """A function that imports a script under ``tools/`` as a module.

    ``load_tool('analysis/probe.py')`` returns ``tools/analysis/probe.py`` with
    its ``main`` and helpers; every call executes the file afresh.
    """

    def load(relpath: str):
        name = 'bevt_tool_' + osp.splitext(relpath)[0].replace('/', '_')
        spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'tools', relpath))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(autouse=True)
def _mmaction_scope():
    init_default_scope('mmaction')
    yield
