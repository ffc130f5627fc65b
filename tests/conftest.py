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
    """A function that imports a script as a module.

    ``load_tool('analysis/probe.py')`` returns ``tools/analysis/probe.py`` with
    its ``main`` and helpers (a path under ``tools/``, else under the repository
    root, e.g. ``demo/toy_demo.py``); every call executes the file afresh.
    """

    def load(relpath: str):
        name = 'bevt_tool_' + osp.splitext(relpath)[0].replace('/', '_')
        path = osp.join(REPO, 'tools', relpath)
        if not osp.isfile(path):
            path = osp.join(REPO, relpath)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope='session')
def random_toy_tokenizer(tmp_path_factory):
    """Weights of the toy configs' VQ-VAE tokenizer at a seeded random init (a .pth path)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import bevt_mm  # noqa: F401
    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    tok = Config.fromfile(osp.join(REPO, 'configs', 'toy', 'toy_joint_swin.py'))
    tok = dict(tok.model.target_generator)
    tok.pop('checkpoint')
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('tokenizer') / 'tok.pth')
    torch.save({'state_dict': MODELS.build(dict(tok, random_init=True)).state_dict()}, path)
    return path


@pytest.fixture(autouse=True)
def _mmaction_scope():
    init_default_scope('mmaction')
    yield
