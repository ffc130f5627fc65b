"""The restricted checkpoint loader: its allowlist is exactly what training checkpoints need.

The config-level round trips (every config in configs/ saves a checkpoint that
``load_checkpoint_file`` loads) are in tests/configs; the refusal of malicious files
at every entry point is tests/reliability/test_untrusted_checkpoints.py.
"""
import os.path as osp
import pickle

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner

from bevt_mm.utils.safe_load import (UntrustedCheckpointError, call_restricted,
                                      checkpoint_globals, load_checkpoint_file)

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
    # and mmengine resumes it through the restricted loader
    resumed = _runner(work, max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4


class _Reduce:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize('owner,name', [(HistoryBuffer, '__init__'), (HistoryBuffer, 'update'),
                                        (torch.Tensor, 'add_')])
def test_getattr_allows_only_history_buffer_statistics(tmp_path, owner, name):
    path = str(tmp_path / 'x.pth')
    torch.save({'m': _Reduce(getattr, owner, name)}, path)
    with pytest.raises(pickle.UnpicklingError, match='builtins.getattr'):
        load_checkpoint_file(path)
    torch.save({'m': _Reduce(getattr, HistoryBuffer, 'mean')}, path)
    assert load_checkpoint_file(path)['m'] is HistoryBuffer.mean


def test_refusal_names_file_global_and_opt_in(tmp_path):
    import os
    path = str(tmp_path / 'shell.pth')
    torch.save({'x': _Reduce(os.system, 'true')}, path)
    with pytest.raises(UntrustedCheckpointError) as err:
        load_checkpoint_file(path)
    text = str(err.value)
    assert path in text and 'system' in text and 'BEVT_TRUST_CHECKPOINTS=1' in text


def test_call_restricted_for_loaders_with_torch_default(tmp_path, monkeypatch):
    """mmengine's http/s3/open-mmlab loaders call torch.load without weights_only."""
    import datetime
    path = str(tmp_path / 'd.pth')
    torch.save({'when': datetime.date(2024, 1, 2), 'hist': HistoryBuffer()}, path)
    with pytest.raises(UntrustedCheckpointError, match='datetime.date'):
        call_restricted('https://example.org/d.pth', torch.load, path)
    monkeypatch.setenv('BEVT_TRUST_CHECKPOINTS', '1')
    with pytest.warns(UserWarning, match='BEVT_TRUST_CHECKPOINTS'):
        assert call_restricted('https://example.org/d.pth', torch.load, path)['when'].year == 2024
