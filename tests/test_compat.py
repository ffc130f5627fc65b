"""The upstream shims in bevt_mm.compat fix what they claim, and only that."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.runner import Runner

import bevt_mm
from bevt_mm import compat
from bevt_mm.utils.safe_load import load_checkpoint_file

from experiment_names import experiment_name


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)


def test_mmaction_models_imports_after_bevt_mm(fresh_imports):
    """A fresh interpreter imports bevt_mm, then mmaction.models and its SwinTransformer3D and
    Recognizer3D (``FRESH_IMPORTS`` in tests/conftest.py, shared with test_registry.py)."""
    assert fresh_imports.returncode == 0, fresh_imports.stderr
    assert fresh_imports.stdout.strip().endswith('ok')


def test_upstream_drn_breakage_is_real_without_the_shim():
    drn_dir = osp.join(compat._mmaction_dir(), 'models', 'localizers', 'drn')
    if osp.isdir(drn_dir):
        pytest.skip('this mmaction2 ships the drn localizer: the shim is a no-op')
    proc = _run_python('import mmaction.models')
    assert proc.returncode != 0
    assert 'mmaction.models.localizers.drn' in proc.stderr


def test_building_drn_names_the_upstream_issue():
    from mmaction.registry import MODELS
    with pytest.raises(ImportError, match='2714'):
        MODELS.build(dict(type='DRN'))


def test_swin_train_and_eval_return_the_module():
    from mmaction.models.backbones import SwinTransformer3D
    model = SwinTransformer3D(arch={'embed_dims': 8, 'depths': [1, 1, 1, 1],
                                    'num_heads': [1, 1, 1, 1]}, pretrained=None)
    assert model.eval() is model
    assert model.training is False
    assert model.train() is model
    assert model.training is True


def test_shims_are_idempotent():
    before = list(compat.APPLIED)
    assert compat.apply_all() == before
    assert 'missing_drn' in before or osp.isdir(
        osp.join(compat._mmaction_dir(), 'models', 'localizers', 'drn'))


class _TinyRegressor(BaseModel):
    """y = w x + b fitted by MSE; enough to exercise optimizer and scheduler state."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs)
        y = torch.stack(data_samples)
        pred = self.linear(x)
        if mode == 'loss':
            return dict(loss=((pred - y) ** 2).mean())
        return pred


def _dataset():
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(32, 4, generator=gen)
    ys = xs @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
    return [dict(inputs=x, data_samples=y) for x, y in zip(xs, ys)]


def _runner(work_dir: str, max_epochs: int, resume: bool) -> Runner:
    return Runner(
        experiment_name=experiment_name('compat'),
        model=_TinyRegressor(),
        work_dir=work_dir,
        train_dataloader=dict(dataset=_dataset(), batch_size=8, collate_fn=pseudo_collate,
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.05)),
        param_scheduler=dict(type='CosineAnnealingLR', T_max=3, by_epoch=True),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        resume=resume,
        default_scope='mmengine',
    )


def test_training_saves_and_resumes(tmp_path):
    """mmengine checkpoints (message hub, numpy scalars) resume under torch>=2.6."""
    work = str(tmp_path / 'run')
    first = _runner(work, max_epochs=2, resume=False)
    first.train()
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    trained = {k: v.clone() for k, v in first.model.state_dict().items()}
    lr_after_2 = first.optim_wrapper.get_lr()['lr'][0]

    second = _runner(work, max_epochs=3, resume=True)
    second.train()  # resumes at epoch 2, trains epoch 3
    assert second.epoch == 3
    assert osp.isfile(osp.join(work, 'epoch_3.pth'))

    # A resumed runner restored weights and scheduler state before training on.
    third = _runner(work, max_epochs=2, resume=False)
    third.load_checkpoint(osp.join(work, 'epoch_2.pth'))
    for key, value in third.model.state_dict().items():
        torch.testing.assert_close(value, trained[key])
    ckpt = load_checkpoint_file(osp.join(work, 'epoch_3.pth'))  # restricted (weights_only)
    assert ckpt['meta']['epoch'] == 3
    assert lr_after_2 > 0


def test_checkpoint_with_mmengine_state_needs_the_shim(tmp_path):
    """The plain torch default would refuse the same file (the breakage is real)."""
    work = str(tmp_path / 'run')
    _runner(work, max_epochs=1, resume=False).train()
    path = osp.join(work, 'epoch_1.pth')
    with pytest.raises(Exception):
        torch.load(path, map_location='cpu')  # weights_only=True by default
    from mmengine.runner.checkpoint import _load_checkpoint
    assert 'state_dict' in _load_checkpoint(path, map_location='cpu')
