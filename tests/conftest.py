"""Suite-wide set-up: register BEVT types and use MMAction2's registry scope."""
import pytest
import torch
from mmengine.registry import init_default_scope

import bevt_mm  # noqa: F401  (compat shims + registration)

# The CI machine has 2 cores; tests use tiny models and small inputs.
torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _mmaction_scope():
    init_default_scope('mmaction')
    yield
