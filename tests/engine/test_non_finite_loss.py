"""Training stops at the first non-finite loss and keeps the last good checkpoint."""
import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.runner import Runner

from bevt_mm.utils.safe_load import load_checkpoint_file

from experiment_names import experiment_name


class _Model(BaseModel):
    """Linear model; a sample's value (0 or a non-finite number) is added to the loss."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs)
        loss = self.linear(x).pow(2).mean() + sum(data_samples)
        return dict(loss=loss, loss_aux=self.linear(x).detach().mean() * 0)


@pytest.mark.parametrize('poison', ['nan', 'inf', '-inf'])
def test_stops_with_iteration_losses_and_last_good_checkpoint(tmp_path, poison):
    """Every non-finite value stops training: NaN, +inf (an overflow) and -inf."""
    data = [dict(inputs=torch.ones(2), data_samples=float(poison) if i == 4 else 0.)
            for i in range(8)]
    runner = Runner(
        experiment_name=experiment_name(f'non_finite_{poison}'),
        model=_Model(), work_dir=str(tmp_path),
        train_dataloader=dict(dataset=data, batch_size=2, collate_fn=pseudo_collate,
                              sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=4),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False,
                                           backend_args=dict(backend='atomic_local'))),
        custom_hooks=[dict(type='NonFiniteLossHook')],
        default_scope='mmaction')
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    message = str(err.value)
    assert 'iteration 3' in message and f'loss={poison} ' in message.replace('.', ' ')
    assert 'iter_2.pth' in message
    assert osp.isfile(tmp_path / 'iter_2.pth') and not osp.exists(tmp_path / 'iter_3.pth')
    state = load_checkpoint_file(tmp_path / 'iter_2.pth')['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values())
