"""The crash fixes and checks of bevt_mm.compat do what they claim, and only that."""
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.runner import Runner

from bevt_mm import compat
from bevt_mm.utils.safe_load import load_checkpoint_file

from experiment_names import experiment_name


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_mmaction_models_imports_after_bevt_mm(fresh_imports):
    """A fresh interpreter imports bevt_mm, then mmaction.models and its SwinTransformer3D and
    Recognizer3D (``FRESH_IMPORTS`` in tests/conftest.py, shared with test_registry.py)."""
    assert fresh_imports.returncode == 0, fresh_imports.stderr
    assert fresh_imports.stdout.strip().endswith('ok')


HIDE_DRN = (
    'import importlib.abc, sys\n'
    'class Hide(importlib.abc.MetaPathFinder):\n'
    '    def find_spec(self, name, path=None, target=None):\n'
    '        if name.startswith("mmaction.models.localizers.drn"):\n'
    '            raise ModuleNotFoundError(f"No module named {name!r}", name=name)\n'
    'sys.meta_path.insert(0, Hide())\n')


@pytest.mark.slow
def test_without_the_drn_folder_import_names_the_install_command():
    """An environment with the mmaction2 1.2.0 wheel and no drn stub (the folder hidden)."""
    proc = _run_python(HIDE_DRN + 'import bevt_mm')
    assert proc.returncode != 0
    assert 'open-mmlab/mmaction2#2714' in proc.stderr, proc.stderr[-2000:]
    assert f'pip install --no-deps {compat.DRN_STUB}' in proc.stderr
    assert osp.isfile(osp.join(compat.DRN_STUB, 'pyproject.toml'))


def test_drn_comes_from_an_installed_module_not_a_shim():
    """One mechanism: the drn folder on disk (the wheel's or the stub's), which mim's tools
    import as well; bevt_mm puts nothing in sys.modules for it."""
    import mmaction.models.localizers.drn as drn
    assert osp.isfile(drn.__file__)
    assert osp.dirname(osp.dirname(drn.__file__)) == osp.join(
        compat._mmaction_dir(), 'models', 'localizers')


def test_building_drn_names_the_upstream_issue():
    from mmaction.registry import MODELS
    with pytest.raises(ImportError, match='2714'):
        MODELS.build(dict(type='DRN'))


def test_stock_swin_train_is_stock_and_ours_chains():
    """The stock ``SwinTransformer3D.train`` is left as it is (it returns None);
    ``BEVTSwinTransformer3D.train`` returns the module."""
    from mmaction.models.backbones import SwinTransformer3D
    from mmaction.models.backbones.swin import __file__ as swin_file

    from bevt_mm.models.backbones import BEVTSwinTransformer3D
    assert SwinTransformer3D.train.__code__.co_filename == swin_file
    arch = {'embed_dims': 8, 'depths': [1, 1, 1, 1], 'num_heads': [1, 1, 1, 1]}
    stock = SwinTransformer3D(arch=arch, pretrained=None)
    assert stock.eval() is None and stock.training is False
    ours = BEVTSwinTransformer3D(arch=arch)
    assert ours.eval() is ours and ours.training is False
    assert ours.train() is ours and ours.training is True


def test_fixes_are_idempotent():
    before = list(compat.APPLIED)
    assert compat.apply_all() == before


def test_bf16_scores_give_the_fp32_loss_of_a_stock_head():
    """mmaction2 1.2.0's BaseHead.loss_by_feat raises on bf16 scores; with the fix the loss
    is the one of the same scores in fp32, and fp32 scores take the stock path."""
    from mmaction.models.heads import TSNHead
    from mmaction.structures import ActionDataSample
    head = TSNHead(num_classes=5, in_channels=4, topk=(1, 2))
    samples = [ActionDataSample().set_gt_label(y) for y in (0, 3, 4)]
    scores = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    scores = scores.bfloat16().float()  # the same values in both dtypes
    bf16 = head.loss_by_feat(scores.bfloat16(), samples)
    fp32 = head.loss_by_feat(scores, samples)
    assert set(bf16) == set(fp32) == {'loss_cls', 'top1_acc', 'top2_acc'}
    for key in fp32:
        torch.testing.assert_close(torch.as_tensor(bf16[key]).float(),
                                   torch.as_tensor(fp32[key]).float())


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


def test_checkpoint_with_mmengine_state_needs_the_allowlist(tmp_path):
    """torch's default allowlist refuses an mmengine checkpoint (the breakage is real); the
    types bevt_mm adds make mmengine's stock loader read it."""
    work = str(tmp_path / 'run')
    _runner(work, max_epochs=1, resume=False).train()
    path = osp.join(work, 'epoch_1.pth')
    from mmengine.runner.checkpoint import _load_checkpoint

    from bevt_mm.utils.safe_load import checkpoint_globals
    ours = set(checkpoint_globals())
    widened = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals([g for g in widened if g not in ours])
    try:
        with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
            _load_checkpoint(path, map_location='cpu')  # weights_only=True by default
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(widened)
    assert 'state_dict' in _load_checkpoint(path, map_location='cpu')
