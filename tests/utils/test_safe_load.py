"""The checkpoint allowlist is exactly what training checkpoints need, and torch keeps refusing
everything else, under bevt_mm's loader and mmengine's stock loader alike.

The config-level round trips (every config in configs/ saves a checkpoint that
``load_checkpoint_file`` loads) are in tests/configs; the refusal of malicious files
at every entry point is tests/reliability/test_untrusted_checkpoints.py.
"""
import contextlib
import os.path as osp
import pickle

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmengine.runner.checkpoint import _load_checkpoint

from bevt_mm.utils.safe_load import (UntrustedCheckpointError, checkpoint_globals,
                                      load_checkpoint_file)

from experiment_names import experiment_name


@pytest.fixture(autouse=True)
def _untrusted(monkeypatch):
    monkeypatch.delenv('BEVT_TRUST_CHECKPOINTS', raising=False)


class _Regressor(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        pred = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=((pred - torch.stack(data_samples)) ** 2).mean())
        return pred


def _runner(work_dir, max_iters, resume=False):
    data = [dict(inputs=torch.randn(4), data_samples=torch.randn(1)) for _ in range(8)]
    return Runner(
        experiment_name=experiment_name('safe_load'),
        model=_Regressor(), work_dir=work_dir,
        train_dataloader=dict(dataset=data, batch_size=4, collate_fn=pseudo_collate,
                              sampler=dict(type='DefaultSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=dict(type='CosineAnnealingLR', T_max=4, by_epoch=False),
        train_cfg=dict(type='ResumableIterBasedTrainLoop', max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='RNGStateHook'), dict(type='EMAHook', momentum=0.01)],
        randomness=dict(seed=0), resume=resume, default_scope='mmaction')


@contextlib.contextmanager
def _torch_default_allowlist():
    """torch's allowlist without the entries bevt_mm added on import, for the block."""
    widened = torch.serialization.get_safe_globals()
    ours = set(checkpoint_globals())
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals([g for g in widened if g not in ours])
    try:
        yield
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(widened)


def _allowlist_names():
    names = set()
    for entry in checkpoint_globals():
        names.add(entry[1] if isinstance(entry, tuple) else
                  f'{entry.__module__}.{entry.__qualname__}')
    return names


def test_allowlist_is_exactly_what_a_training_checkpoint_holds(tmp_path):
    """Derivation of the allowlist: torch refuses these globals of a real checkpoint
    (message hub, RNGStateHook, EMAHook, optimizer, scheduler, resumable loop) and
    nothing else; our list adds exactly them (plus NumPy 1's names of the same two
    functions)."""
    work = str(tmp_path / 'run')
    _runner(work, max_iters=2).train()
    path = osp.join(work, 'iter_2.pth')
    with _torch_default_allowlist():
        needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    assert needed == {'builtins.getattr', 'mmengine.logging.history_buffer.HistoryBuffer',
                      'numpy._core.multiarray._reconstruct', 'numpy._core.multiarray.scalar',
                      'numpy.dtype', 'numpy.ndarray'}
    # beyond them: NumPy 1's names of the same two functions, and the classes of the
    # dtypes stored (``numpy.dtype('f8')`` is a ``numpy.dtypes.Float64DType``, which the
    # unpickler rebuilds; not a GLOBAL in the file, so the scan above cannot list it)
    extra = _allowlist_names() - needed
    assert extra == {'numpy.core.multiarray._reconstruct', 'numpy.core.multiarray.scalar',
                     'numpy.dtypes.Float64DType', 'numpy.dtypes.Int64DType',
                     'numpy.dtypes.UInt32DType'}
    ckpt = load_checkpoint_file(path)
    assert {'rng_states', 'ema_state_dict', 'message_hub', 'optimizer'} <= set(ckpt)
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    # and mmengine resumes it through its stock loader, torch's weights_only load
    resumed = _runner(work, max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4


class _Reduce:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize('load', [load_checkpoint_file, _load_checkpoint],
                         ids=['load_checkpoint_file', 'mmengine'])
@pytest.mark.parametrize('owner,name', [(HistoryBuffer, '__init__'), (HistoryBuffer, 'update'),
                                        (torch.Tensor, 'add_')])
def test_getattr_allows_only_history_buffer_statistics(tmp_path, owner, name, load):
    path = str(tmp_path / 'x.pth')
    torch.save({'m': _Reduce(getattr, owner, name)}, path)
    with pytest.raises(pickle.UnpicklingError, match='builtins.getattr'):
        load(path)
    torch.save({'m': _Reduce(getattr, HistoryBuffer, 'mean')}, path)
    assert load(path)['m'] is HistoryBuffer.mean


def test_torch_allowlist_holds_the_substitute_never_getattr_itself():
    allowed = torch.serialization.get_safe_globals()
    assert getattr not in allowed
    assert [e[1] for e in allowed if isinstance(e, tuple) and e[0] is not getattr
            and e[1] == 'builtins.getattr'] == ['builtins.getattr']
    assert set(checkpoint_globals()) <= set(allowed)


def test_refusal_names_file_global_and_opt_in(tmp_path):
    import os
    path = str(tmp_path / 'shell.pth')
    torch.save({'x': _Reduce(os.system, 'true')}, path)
    with pytest.raises(UntrustedCheckpointError) as err:
        load_checkpoint_file(path)
    text = str(err.value)
    assert path in text and 'system' in text and 'BEVT_TRUST_CHECKPOINTS=1' in text


def test_extra_globals_are_allowed_for_that_load_only(tmp_path):
    from fractions import Fraction
    path = str(tmp_path / 'f.pth')
    torch.save({'ratio': Fraction(1, 3), 'w': torch.ones(2)}, path)
    assert load_checkpoint_file(path, extra_globals=[Fraction])['ratio'] == Fraction(1, 3)
    assert Fraction not in torch.serialization.get_safe_globals()
    with pytest.raises(UntrustedCheckpointError, match='Fraction'):
        load_checkpoint_file(path)


def test_stock_loads_do_not_read_the_opt_in(tmp_path, monkeypatch):
    """BEVT_TRUST_CHECKPOINTS is for bevt_mm's tools: mmengine's loader refuses as torch does."""
    import datetime
    path = str(tmp_path / 'd.pth')
    torch.save({'when': datetime.date(2024, 1, 2), 'hist': HistoryBuffer()}, path)
    monkeypatch.setenv('BEVT_TRUST_CHECKPOINTS', '1')
    with pytest.raises(pickle.UnpicklingError, match='datetime.date'):
        _load_checkpoint(path, map_location='cpu')
    with pytest.warns(UserWarning, match='BEVT_TRUST_CHECKPOINTS'):
        assert load_checkpoint_file(path)['when'].year == 2024
