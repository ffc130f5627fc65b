"""tools/analysis/visualize_masks.py: the overlay, the token rebuild, and the CLI end to end on a
shrunk toy_joint_swin.py with tiny random models (tokenizer with and without decoder)."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from bevt_mm.testing.scripts import load_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
tool = load_script(osp.join(REPO, 'tools', 'analysis', 'visualize_masks.py'))
(cell_bounds, compose_rows, frames_of, load_sample, overlay_mask, predict, rebuild_ids,
 resize_nearest, stream_datasets, target_masks_of, visualize_masks, build_model) = (
    tool.cell_bounds, tool.compose_rows, tool.frames_of, tool.load_sample, tool.overlay_mask,
    tool.predict, tool.rebuild_ids, tool.resize_nearest, tool.stream_datasets,
    tool.target_masks_of, tool.visualize_masks, tool.build_model)
sys.path.insert(0, osp.join(REPO, 'tests', 'configs'))  # config_shrink

from config_shrink import (FRAMES, RES, VOCAB, shrink_bevt_config,  # noqa: E402
                           tiny_tokenizer_cfg)

TOY_CFG = osp.join(REPO, 'configs', 'toy', 'toy_joint_swin.py')
# the smallest legal DALL-E encoder (a tokenizer without decode)
TINY_DALLE = dict(type='DALLETokenizer', checkpoint=None, random_init=True, n_hid=64,
                  vocab_size=512, n_blk_per_group=1)
SCALE = 128 // RES  # the default display magnification for RES-pixel inputs
GAP, TITLE, CAPTION = 4, 16, 14  # compose_rows' defaults


# ---------------------------------------------------------------- drawing units
def test_overlay_changes_exactly_the_masked_cells():
    img = np.full((32, 48, 3), 128, np.uint8)
    img[::3] = 40  # some structure, far from the tint and the outline colours
    mask = np.zeros((4, 6), bool)
    mask[0, 0] = mask[1, 2] = mask[1, 3] = mask[3, 5] = True
    out = overlay_mask(img, mask)
    assert out.shape == img.shape and out.dtype == np.uint8
    changed = (out != img).any(-1)
    expected = np.kron(mask, np.ones((8, 8), bool))  # each cell is 8x8 pixels
    np.testing.assert_array_equal(changed, expected)
    # outline inside each masked cell: its corner pixel has the border colour
    assert tuple(out[8, 16]) == (255, 255, 0) and tuple(out[15, 31]) == (255, 255, 0)
    # outline only (alpha 0): cell interiors unchanged, borders changed
    thin = overlay_mask(img, mask, alpha=0.0)
    np.testing.assert_array_equal(thin[9:15, 17:23], img[9:15, 17:23])
    assert ((thin != img).any(-1) <= expected).all()
    # the input is not modified
    assert (img[1] == 128).all()


def test_cell_bounds_and_nearest_resize():
    assert cell_bounds(64, 4) == [(0, 16), (16, 32), (32, 48), (48, 64)]
    small = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    big = resize_nearest(small, 4, 6)
    np.testing.assert_array_equal(big, small.repeat(2, 0).repeat(2, 1))


def test_compose_rows_size():
    p = np.zeros((10, 12, 3), np.uint8)
    pic = compose_rows([dict(title='a', panels=[p] * 3, captions=['x'] * 3),
                        dict(title=None, panels=[p])], gap=GAP, title_height=TITLE,
                       caption_height=CAPTION)
    assert pic.shape == (GAP + (TITLE + CAPTION + 10 + GAP) + (10 + GAP),
                         GAP + 3 * (12 + GAP), 3)
    with pytest.raises(ValueError, match='same|uint8'):
        compose_rows([dict(panels=[p, np.zeros((9, 12, 3), np.uint8)])])


def test_rebuild_ids_takes_predictions_at_masked_positions_only():
    g = torch.Generator().manual_seed(0)
    true = torch.randint(0, 7, (2, 3, 3), generator=g)
    logits = torch.randn(2, 3, 3, 7, generator=g)
    mask = torch.rand(2, 3, 3, generator=g) > 0.5
    ids = rebuild_ids(true, logits, mask)
    assert torch.equal(ids[~mask], true[~mask])
    assert torch.equal(ids[mask], logits.argmax(-1)[mask])
    assert torch.equal(rebuild_ids(true, logits, torch.zeros_like(mask)), true)


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope='module')
def media(tmp_path_factory):
    from bevt_mm.testing.toy_data import make_image_set, make_video_set
    root = str(tmp_path_factory.mktemp('vm_media'))
    videos = make_video_set(root, 'spatial', num_train=2, num_val=0, seed=0, size=64,
                            num_frames=8)
    images = make_image_set(root, num_train=2, num_val=0, seed=0, size=72, photo_fraction=0)
    return dict(video_list=videos['train'], video_root=osp.join(root, 'spatial'),
                image_list=images['train'], image_root=osp.join(root, 'images'))


@pytest.fixture(scope='module')
def tokenizer_files(tmp_path_factory):
    """The tiny VQ-VAE of config_shrink with and without its decoder."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    root = tmp_path_factory.mktemp('vm_tok')
    cfg = dict(tiny_tokenizer_cfg(None), random_init=True, with_decoder=True)
    torch.manual_seed(0)
    tok = MODELS.build(cfg)
    state = tok.state_dict()
    files = dict(decoder=str(root / 'with_decoder.pth'), encoder=str(root / 'encoder_only.pth'))
    torch.save({'state_dict': state}, files['decoder'])
    torch.save({'state_dict': {k: v for k, v in state.items()
                               if not k.startswith(('decoder.', 'post_quant_conv.'))}},
               files['encoder'])
    return files


def _shrunk(media, tokenizer_file, work_dir, tokenizer=None):
    cfg = shrink_bevt_config(Config.fromfile(TOY_CFG), media, tokenizer_file, str(work_dir))
    if tokenizer is not None:
        cfg.model.target_generator = tokenizer
        cfg.model.head.num_classes = tokenizer['vocab_size']
    return cfg


def _bevt_checkpoint(cfg, path):
    """A tiny BEVT of ``cfg`` with seeded random weights, saved as tools/train.py does."""
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='module')
def toy(media, tokenizer_files, tmp_path_factory):
    """Shrunk toy_joint_swin.py (as a file) and a BEVT checkpoint of it."""
    root = tmp_path_factory.mktemp('vm_cfg')
    cfg = _shrunk(media, tokenizer_files['decoder'], root)
    cfg_path = str(root / 'toy_joint_swin_tiny.py')
    cfg.dump(cfg_path)
    return dict(cfg=cfg, cfg_path=cfg_path,
                ckpt=_bevt_checkpoint(cfg, str(root / 'bevt.pth')))


def _run_cli(argv, capsys):
    result = tool.main(argv)
    return result, capsys.readouterr().out


def _panel(pic, row_top, k, size):
    """Panel ``k`` of the row whose panels start at pixel row ``row_top``."""
    x = GAP + k * (size + GAP)
    return pic[row_top:row_top + size, x:x + size]


# ---------------------------------------------------------------- end to end
def test_cli_with_checkpoint_draws_masks_on_the_right_cells(toy, tmp_path, capsys):
    out = str(tmp_path / 'masks.png')
    result, printed = _run_cli([toy['cfg_path'], '--checkpoint', toy['ckpt'], '--out', out,
                                '--seed', '3', '--min-psnr', '0'], capsys)
    assert f'wrote {out}' in printed
    assert 'masked-token accuracy of this sample' in printed and 'note:' not in printed
    pic = np.asarray(Image.open(out).convert('RGB'))
    size = RES * SCALE
    # 4 video rows (the first with frame captions), then 1 image row of 4 captioned panels
    assert pic.shape == (GAP + 2 * (TITLE + CAPTION + size + GAP) + 3 * (TITLE + size + GAP),
                         GAP + FRAMES * (size + GAP), 3)
    assert result['size'] == (pic.shape[1], pic.shape[0])
    assert result['rows'][2].startswith('tokenizer reconstruction (true ids; PSNR ')
    assert result['rows'][3].startswith('rebuilt from predicted tokens')
    for name in ('video', 'image'):
        s = result['streams'][name]
        assert s['num_masked'] > 0 and 0 <= s['accuracy'] <= 100
        assert s['accuracy'] == pytest.approx(100 * s['num_correct'] / s['num_masked'])

    # the masks drawn are those of the config's pipelines under the same seed, on the cells
    # of the token grid: the mask row differs from the input row exactly in masked cells
    datasets = stream_datasets(toy['cfg'])
    video = load_sample(datasets['video'][1], datasets['video'][0], 'video', seed=3)
    frames, masks = frames_of(video), target_masks_of(video)
    assert masks.any() and not masks.all()
    top_input = GAP + TITLE + CAPTION
    top_mask = top_input + size + GAP + TITLE
    for t in range(FRAMES):
        shown = _panel(pic, top_input, t, size)
        np.testing.assert_array_equal(shown, resize_nearest(frames[t], size, size))
        changed = (_panel(pic, top_mask, t, size) != shown).any(-1)
        cell = size // masks.shape[-1]
        np.testing.assert_array_equal(changed, np.kron(masks[t], np.ones((cell, cell), bool)))
    image = load_sample(datasets['image'][1], datasets['image'][0], 'image', seed=3)
    top_image = pic.shape[0] - GAP - size
    shown = _panel(pic, top_image, 0, size)
    np.testing.assert_array_equal(shown, resize_nearest(frames_of(image)[0], size, size))
    changed = (_panel(pic, top_image, 1, size) != shown).any(-1)
    cell = size // target_masks_of(image).shape[-1]
    np.testing.assert_array_equal(
        changed, np.kron(target_masks_of(image)[0], np.ones((cell, cell), bool)))


def test_all_visible_mask_rebuilds_the_tokenizer_reconstruction(toy):
    notes = []
    model = build_model(toy['cfg'], toy['ckpt'], notes)
    assert notes == [] and model.target_generator.with_decoder
    datasets = stream_datasets(toy['cfg'])
    samples = {n: load_sample(ds, key, n, seed=0) for n, (key, ds) in datasets.items()}
    masked = predict(model, samples)
    for name, s in samples.items():
        p = masked[name]
        tm = target_masks_of(s).reshape(p['true_ids'].shape)
        assert torch.equal(p['rebuilt_ids'][torch.from_numpy(~tm)],
                           p['true_ids'][torch.from_numpy(~tm)])
        assert p['true_frames'].shape == (len(tm), 32, 32, 3)  # the 32x32 tokenizer view
        sample = s['data_samples']
        sample.mask = torch.zeros_like(sample.mask)
        sample.target_mask = torch.zeros_like(sample.target_mask)
    visible = predict(model, samples)
    for name in samples:
        v = visible[name]
        assert v['accuracy'] is None and v['num_masked'] == 0
        assert torch.equal(v['rebuilt_ids'], v['true_ids'])
        np.testing.assert_array_equal(v['rebuilt_frames'], v['true_frames'])
        # the true ids do not depend on the mask
        assert torch.equal(v['true_ids'], masked[name]['true_ids'])


def test_cli_without_checkpoint_mask_rows_only(toy, media, tmp_path, capsys):
    out = str(tmp_path / 'm.png')
    video = osp.join(media['video_root'], 'train', 'spatial_train_00001.mp4')
    result, printed = _run_cli([toy['cfg_path'], '--out', out, '--video', video,
                                '--cfg-options', 'model.target_generator.checkpoint=/nowhere.pth'],
                               capsys)
    assert 'note: no --checkpoint: mask rows only' in printed
    assert result['streams']['video']['path'] == video
    assert result['streams']['video']['accuracy'] is None
    size = RES * SCALE
    pic = np.asarray(Image.open(out))
    assert pic.shape[:2] == (GAP + 2 * (TITLE + CAPTION + size + GAP) + (TITLE + size + GAP),
                             GAP + FRAMES * (size + GAP))
    assert len(result['rows']) == 3


def test_tokenizer_without_decode_gives_note_and_mask_picture(media, tokenizer_files, tmp_path,
                                                              capsys):
    cfg = _shrunk(media, tokenizer_files['decoder'], tmp_path, tokenizer=dict(TINY_DALLE))
    cfg_path = str(tmp_path / 'dalle.py')
    cfg.dump(cfg_path)
    ckpt = _bevt_checkpoint(cfg, str(tmp_path / 'bevt_dalle.pth'))
    out = str(tmp_path / 'dalle.png')
    result, printed = _run_cli([cfg_path, '--checkpoint', ckpt, '--out', out], capsys)
    assert 'note: DALLETokenizer cannot decode ids into pixels' in printed
    assert 'masked-token accuracy of this sample' in printed
    assert len(result['rows']) == 3 and osp.getsize(out) > 0
    assert Image.open(out).size == result['size']


def test_tokenizer_weights_from_bevt_checkpoint_or_encoder_only_file(toy, tokenizer_files,
                                                                     tmp_path, capsys):
    # no tokenizer file: encoder and codebook from the BEVT checkpoint, no decoder
    result, printed = _run_cli(
        [toy['cfg_path'], '--checkpoint', toy['ckpt'], '--out', str(tmp_path / 'a.png'),
         '--cfg-options', 'model.target_generator.checkpoint=/nowhere/tok.pth'], capsys)
    assert "tokenizer file '/nowhere/tok.pth' not found" in printed
    assert len(result['rows']) == 3 and result['streams']['video']['accuracy'] is not None
    # a tokenizer file without decoder
    result, printed = _run_cli(
        [toy['cfg_path'], '--checkpoint', toy['ckpt'], '--out', str(tmp_path / 'b.png'),
         '--cfg-options', f'model.target_generator.checkpoint={tokenizer_files["encoder"]}'],
        capsys)
    assert 'no decoder from the tokenizer file' in printed and 'has no decoder' in printed
    assert len(result['rows']) == 3


def test_errors_name_the_file_or_config_key(toy, tmp_path):
    with pytest.raises(FileNotFoundError, match='--checkpoint /missing/bevt.pth'):
        visualize_masks(toy['cfg'], str(tmp_path / 'x.png'), checkpoint='/missing/bevt.pth')
    with pytest.raises(FileNotFoundError, match='--video /missing.mp4'):
        visualize_masks(toy['cfg'], str(tmp_path / 'x.png'), video='/missing.mp4')
    with pytest.raises(FileNotFoundError,
                       match=r'train_dataloader\.dataset\.datasets\.1\.ann_file'):
        visualize_masks(toy['cfg'], str(tmp_path / 'x.png'), cfg_options={
            'train_dataloader.dataset.datasets.1.ann_file': '/missing/list.txt'})
    recognizer = Config.fromfile(osp.join(REPO, 'configs', 'toy', 'toy_finetune_swin_spatial.py'))
    with pytest.raises(ValueError, match='TubeMaskGenerator or BlockMaskGenerator'):
        visualize_masks(recognizer, str(tmp_path / 'x.png'))
    wrong = str(tmp_path / 'wrong.pth')
    torch.save({'state_dict': {'backbone.nonsense': torch.zeros(1)}}, wrong)
    with pytest.raises(ValueError, match='does not fit the model'):
        visualize_masks(toy['cfg'], str(tmp_path / 'x.png'), checkpoint=wrong)
    assert VOCAB == toy['cfg'].model.head.num_classes


def test_checkpoint_alone_uses_the_config_of_its_run(toy, tmp_path, capsys):
    """A run with --cfg-options (own data): the checkpoint's meta.cfg (what mmengine stores)
    gives the lists and the tokenizer, so no config argument is needed."""
    ckpt = str(tmp_path / 'epoch_1.pth')
    raw = torch.load(toy['ckpt'], weights_only=True)
    torch.save(dict(raw, meta=dict(cfg=toy['cfg'].pretty_text)), ckpt)
    out = str(tmp_path / 'own.png')
    result, printed = _run_cli(['--checkpoint', ckpt, '--out', out, '--seed', '3'], capsys)
    assert f'wrote {out}' in printed and 'masked-token accuracy of this sample' in printed
    assert result['streams']['video']['path'] == load_sample(
        *reversed(stream_datasets(toy['cfg'])['video']), 'video', seed=3)['path']


def test_token_rows_left_out_when_the_tokenizer_cannot_rebuild_the_frame(toy, tmp_path, capsys):
    """The random tiny tokenizer rebuilds its input far below --min-psnr: no blur rows."""
    out = str(tmp_path / 'masks.png')
    result, printed = _run_cli([toy['cfg_path'], '--checkpoint', toy['ckpt'], '--out', out,
                                '--seed', '3'], capsys)
    assert not any('tokenizer reconstruction' in r or 'rebuilt from' in r
                   for r in result['rows'] if r), result['rows']
    assert 'dB PSNR (below --min-psnr 18)' in printed and 'masked-token accuracy' in printed
