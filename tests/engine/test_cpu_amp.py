"""``--amp`` / AMP recipes without a GPU: bf16 autocast on CPU, as the help says."""
import os.path as osp
import sys
from argparse import Namespace

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.runner import Runner

from bevt_mm.engine import merge_train_args
from bevt_mm.engine.launch import cpu_has_native_bf16

from experiment_names import experiment_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path')


class _DtypeProbe(BaseModel):
    """A linear regressor that records the dtype its layer computed in."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        pred = self.linear(torch.stack(inputs))
        self.seen.append(pred.dtype)
        if mode == 'loss':
            return dict(loss=((pred.float() - torch.stack(data_samples)) ** 2).mean())
        return pred


def _train_args(amp: bool, work_dir: str) -> Namespace:
    return Namespace(config='probe.py', work_dir=work_dir, resume=None, amp=amp,
                     no_validate=True, auto_scale_lr=False, seed=0, diff_rank_seed=False,
                     deterministic=False, cfg_options=None, launcher='none')


def _train(tmp_path, amp: bool, optim_type: str = 'OptimWrapper', **wrapper):
    cfg = Config(dict(
        optim_wrapper=dict(type=optim_type, optimizer=dict(type='SGD', lr=0.1),
                           clip_grad=dict(max_norm=10), **wrapper),
        train_cfg=dict(by_epoch=True, max_epochs=1)))
    cfg = merge_train_args(cfg, _train_args(amp, str(tmp_path / f'amp{amp}{optim_type}')))
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(8, 4, generator=gen)
    data = [dict(inputs=x, data_samples=x.sum(0, keepdim=True)) for x in xs]
    model = _DtypeProbe()
    before = model.linear.weight.detach().clone()
    runner = Runner(model=model, work_dir=cfg.work_dir,
                    experiment_name=experiment_name('cpu_amp'),
                    train_dataloader=dict(dataset=data, batch_size=4, collate_fn=pseudo_collate,
                                          sampler=dict(type='DefaultSampler', shuffle=False)),
                    optim_wrapper=cfg.optim_wrapper, train_cfg=cfg.train_cfg,
                    default_scope='mmaction', randomness=cfg.randomness)
    runner.train()
    assert not torch.equal(model.linear.weight.detach(), before)  # it trained
    assert model.linear.weight.dtype == torch.float32  # master weights stay fp32
    return cfg, model.seen


#: CPU AMP is bf16 autocast where the CPU has native bf16, fp32 elsewhere
CPU_AMP_DTYPE = torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def test_amp_flag_trains_under_bf16_autocast_on_cpu(tmp_path):
    cfg, seen = _train(tmp_path, amp=True)
    assert seen and set(seen) == {CPU_AMP_DTYPE}
    assert 'loss_scale' not in cfg.optim_wrapper  # bf16 needs no loss scaling


def test_amp_recipe_config_trains_under_bf16_autocast_on_cpu(tmp_path):
    """A recipe with AmpOptimWrapper (fp16 on GPU) gets bf16 autocast on CPU."""
    with pytest.warns(UserWarning, match='bf16'):
        _, seen = _train(tmp_path, amp=False, optim_type='AmpOptimWrapper')
    assert set(seen) == {CPU_AMP_DTYPE}


def test_without_amp_cpu_trains_in_fp32(tmp_path):
    _, seen = _train(tmp_path, amp=False)
    assert set(seen) == {torch.float32}
    # the README's opt-out for an AMP recipe on a CPU without fast bf16
    _, seen = _train(tmp_path, amp=False, optim_type='AmpOptimWrapper', loss_scale='dynamic',
                     dtype='float32')
    assert set(seen) == {torch.float32}


def test_train_help_and_readme_say_what_amp_does(capsys, monkeypatch, load_tool):
    train = load_tool('train.py')
    monkeypatch.setattr(sys, 'argv', ['train.py', '--help'])
    with pytest.raises(SystemExit):
        train.parse_args()
    help_text = ' '.join(capsys.readouterr().out.split())
    assert 'bf16 autocast on CPU' in help_text, help_text
    with open(osp.join(ROOT, 'docs', 'usage.md')) as f:  # the README links it for training
        usage = ' '.join(f.read().split())
    assert 'bf16 autocast' in usage and 'AMP recipes to fp32' not in usage


def test_mmaction_head_loss_takes_bf16_scores():
    """the bf16 crash fix of bevt_mm.compat: a stock I3DHead's training loss (and top-k) from bf16 scores."""
    from mmaction.models.heads import I3DHead
    from mmaction.structures import ActionDataSample
    head = I3DHead(num_classes=4, in_channels=8)
    samples = [ActionDataSample().set_gt_label(i) for i in (0, 3)]
    feats = torch.randn(2, 8, 1, 2, 2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = head.loss(feats, samples)
    assert torch.isfinite(losses['loss_cls']) and 'top1_acc' in losses
