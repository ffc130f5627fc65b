"""A pretraining run's log: one line for the frozen tokenizer, not one per parameter.

Those lines come from the optimizer wrapper's constructor, which ``Runner.train()``
calls before the first iteration; the test builds it the same way
(``runner.build_optim_wrapper``) without training (one epoch of the same shrunk
config trains in test_pretrain_configs.py).
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from config_shrink import shrink_bevt_config

from experiment_names import experiment_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# DALL-E's architecture at its smallest legal sizes, random weights (no file needed)
TINY_DALLE = dict(type='DALLETokenizer', checkpoint=None, random_init=True, n_hid=64,
                  vocab_size=512, n_blk_per_group=1)


@pytest.mark.parametrize('tokenizer', ['vqvae', 'dalle'])
def test_pretraining_log_has_one_frozen_line(tokenizer, bevt_media, tiny_tokenizer_ckpt,
                                             tmp_path):
    cfg = shrink_bevt_config(Config.fromfile(osp.join(ROOT, 'configs/toy/toy_joint_swin.py')),
                             bevt_media, tiny_tokenizer_ckpt, str(tmp_path))
    if tokenizer == 'dalle':
        cfg.model.target_generator = dict(TINY_DALLE)
        cfg.model.head.num_classes = TINY_DALLE['vocab_size']
    # MMLogger instances are keyed by experiment name (config name + timestamp to the
    # second): a Runner built earlier in the same second would lend this one its logger
    # and log file, so the name is made unique.
    cfg.experiment_name = experiment_name(f'pretrain_log_{tokenizer}')
    runner = Runner.from_cfg(cfg)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)  # as train() does
    n_params = len(list(runner.model.target_generator.parameters()))
    assert n_params >= 10
    log, = glob.glob(str(tmp_path / '*' / '*.log'))
    lines = open(log).read().splitlines()
    assert not [ln for ln in lines if 'is skipped since its requires_grad' in ln]
    frozen = [ln for ln in lines if 'Frozen, left out of the optimizer' in ln]
    assert len(frozen) == 1 and 'target_generator' in frozen[0], frozen
    assert f'{n_params} tensors' in frozen[0]
