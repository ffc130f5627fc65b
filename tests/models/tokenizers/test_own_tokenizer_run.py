"""A tokenizer trained by tools/train_tokenizer.py: the same seed gives the same
run, and a config of another preset uses it with only ``checkpoint`` set (the
file's architecture and vocabulary win; the head's ``num_classes`` follows)."""
import logging
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from PIL import Image

from bevt_mm.utils.safe_load import load_checkpoint_file
from mmaction.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _images(folder, count=10):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(count):
        img = np.zeros((40, 48, 3), np.uint8)
        img[:] = rng.integers(0, 256, 3)
        y, x = rng.integers(0, 20, 2)
        img[y:y + 16, x:x + 24] = rng.integers(0, 256, 3)
        Image.fromarray(img).save(folder / f'{k:02d}.png')
    return folder


def _train(tool, folder, out, workers):
    return tool.main([str(folder), '--out', str(out), '--preset', 'small', '--size', '16',
                      '--steps', '4', '--batch-size', '4', '--workers', str(workers),
                      '--val-images', '2', '--seed', '3', '--log-every', '100'])


@pytest.fixture(scope='module')
def small_runs(tmp_path_factory, load_tool):
    """Two runs of --preset small with the same seed (one loader in the main
    process, one with a worker process: the docs use both)."""
    tmp = tmp_path_factory.mktemp('own_tok')
    folder = _images(tmp / 'imgs')
    tool = load_tool('train_tokenizer.py')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = [(_train(tool, folder, tmp / f'tok{k}.pth', workers), tmp / f'tok{k}.pth')
                for k, workers in enumerate((0, 0, 1, 1))]
    finally:
        torch.set_num_threads(threads)
    return runs


@pytest.mark.slow
def test_same_seed_same_run(small_runs):
    (a, path_a), (b, path_b), (c, path_c), (d, path_d) = small_runs
    assert len(a['step_losses']) == 4
    assert a['step_losses'] == b['step_losses'], (a['step_losses'], b['step_losses'])
    assert c['step_losses'] == d['step_losses'], (c['step_losses'], d['step_losses'])
    for one, two in ((path_a, path_b), (path_c, path_d)):
        sd1, sd2 = (load_checkpoint_file(str(p))['state_dict'] for p in (one, two))
        assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)


@pytest.mark.slow
def test_checkpoint_of_another_preset_sets_vocabulary_and_head(small_runs):
    path = str(small_runs[0][1])
    cfg = Config.fromfile(f'{REPO}/configs/toy/toy_joint_swin.py')  # toy preset, 256 codes
    cfg.merge_from_dict({'model.target_generator.checkpoint': path})  # as own_data.md says
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        model = MODELS.build(cfg.model)
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    assert model.target_generator.vocab_size == 1024  # --preset small
    assert model.head.num_classes == 1024
    assert model.target_generator.encoder.conv_in.out_channels == 32  # small's ch
    text = '\n'.join(lines)
    assert 'vocab_size' in text and 'num_classes' in text and '1024' in text, text
    clip = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    assert int(model.target_generator(clip).max()) < 1024
