"""Suite-wide set-up: register BEVT types and use MMAction2's registry scope."""
import gc
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.registry import init_default_scope

import bevt_mm  # noqa: F401  (crash fixes + registration)
from bevt_mm.testing.scripts import load_script

# The CI machine has 2 cores; tests use tiny models and small inputs.
# Under pytest-xdist (`make test` runs two workers) each worker computes on one thread.
torch.set_num_threads(1 if os.environ.get('PYTEST_XDIST_WORKER') else 2)

# mmengine's BaseDataset runs gc.collect() whenever it is built (serialize_data), and the
# ProbeHook and every Runner build several: a full collection walks the ~400k objects that
# torch, mmengine and mmaction2 leave from their import, 0.3-2 s each on 2 cores. Frozen
# objects are skipped by collections; the suite creates no cycles it needs collected early.
gc.freeze()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def load_tool():
    """A function that imports a script as a module.

    ``load_tool('analysis/probe.py')`` returns ``tools/analysis/probe.py`` with
    its ``main`` and helpers (a path under ``tools/``, else under the repository
    root, e.g. ``demo/toy_demo.py``); every call executes the file afresh.
    """

    def load(relpath: str):
        path = osp.join(REPO, 'tools', relpath)
        if not osp.isfile(path):
            path = osp.join(REPO, relpath)
        return load_script(path, 'bevt_tool_' + osp.splitext(relpath)[0].replace('/', '_'))

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


#: Run once in a fresh interpreter (each one imports torch + mmaction2 anew, 5-10 s): a
#: config's ``custom_imports=['bevt_mm']`` as tools/train.py and mim do, the BEVT types in
#: the registry before anything else imports mmaction.models, then ``import mmaction.models``
#: and its recognizer/backbone classes (needs the drn folder that packaging/mmaction2-drn-stub installs).
FRESH_IMPORTS = ('from mmengine.config import Config\n'
                 'cfg = Config(dict(custom_imports=dict(imports=["bevt_mm"], '
                 'allow_failed_imports=False)))\n'
                 'from mmengine.utils import import_modules_from_strings\n'
                 'import_modules_from_strings(**cfg.custom_imports)\n'
                 'from mmaction.registry import MODELS\n'
                 'assert MODELS.get("BEVT") is not None\n'
                 'import mmaction.models\n'
                 'from mmaction.models import SwinTransformer3D, Recognizer3D\n'
                 'print("ok")\n')


@pytest.fixture(scope='session')
def fresh_imports():
    """:data:`FRESH_IMPORTS` run by a fresh interpreter (shared by test_registry and
    test_compat): the ``subprocess.CompletedProcess``."""
    return subprocess.run([sys.executable, '-c', FRESH_IMPORTS], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module', autouse=True)
def _freeze_gc_heap():
    """Collect what the previous test module left, then freeze the survivors (session
    fixtures), so that later collections skip them too."""
    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(autouse=True)
def _mmaction_scope():
    init_default_scope('mmaction')
    yield
