"""tools/train_tokenizer.py end to end on a folder of real JPEGs (one corrupt)."""
import json
import os.path as osp

import numpy as np
import torch
from PIL import Image

from bevt_mm.utils.safe_load import load_checkpoint_file
from mmaction.registry import MODELS


def test_train_tokenizer_tool(tmp_path, load_tool):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(12):
        img = np.zeros((40, 48, 3), np.uint8)
        img[:] = rng.integers(0, 256, 3)
        img[10:30, 8:28] = rng.integers(0, 256, 3)
        Image.fromarray(img).save(folder / f'{k:02d}.jpg')
    (folder / '05b_broken.jpg').write_bytes(b'\xff\xd8 broken')
    tool = load_tool('train_tokenizer.py')
    out = str(tmp_path / 'tok.pth')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        stats = tool.main([str(folder), '--out', out, '--preset', 'tiny', '--size', '16',
                           '--steps', '20', '--batch-size', '4', '--workers', '0',
                           '--val-images', '2', '--restart-every', '5', '--log-every', '10'])
    finally:
        torch.set_num_threads(threads)
    assert stats['failed_images'] >= 1  # the broken file was hit and replaced
    ckpt = load_checkpoint_file(out)
    cfg = ckpt['meta']['tokenizer_cfg']
    tok = MODELS.build(dict(type='VQVAETokenizer', checkpoint=out, with_decoder=True, **cfg))
    x = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    assert tok(x).shape == (2, 8, 8) and tok.decode(tok(x)).shape == (2, 3, 16, 16)
    report = json.load(open(osp.join(tmp_path, 'tok.json')))
    assert set(report['eval']) >= {'mse', 'mean_image_mse', 'codebook_usage'}
