"""A checkpoint whose pickle would run code is refused by every entry point, and no code runs.

The payload is an object whose ``__reduce__`` returns ``(builtins.exec, (code, ))``:
an unrestricted ``torch.load`` executes ``code``, which writes a marker file. Three
files carry it: a plain ``.pth`` (a state dict), a real BEVT pretraining checkpoint
(two iterations of the shrunk toy recipe: ``meta``, ``state_dict``, ``message_hub``,
optimizer, RNG states) with the payload in its message hub, and tokenizer files. For
every entry point the load fails and the marker does not exist. Loads through mmengine
(``load_from``, ``--resume``, ``model.backbone.pretrained``, ``tools/test.py``) keep
torch's ``weights_only`` protection (bevt_mm only widens its allowlist by the types
mmengine checkpoints hold) and raise torch's own error naming the refused global; they
never read ``BEVT_TRUST_CHECKPOINTS``. bevt_mm's own loads (each converter CLI, the mask
picture tool, each tokenizer) name the file and that opt-in.
"""
import os
import os.path as osp
import pickle
import runpy
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import toy_run

from experiment_names import experiment_name

OPT_IN = 'BEVT_TRUST_CHECKPOINTS=1'
CONVERT = osp.join(toy_run.ROOT, 'tools', 'convert')
MASKS_TOOL = osp.join(toy_run.ROOT, 'tools', 'analysis', 'visualize_masks.py')
TINY_DALLE = dict(n_hid=64, vocab_size=512, n_blk_per_group=1)  # dall_e's smallest legal sizes


class RunsCode:
    """Pickles as ``exec(code)``; the code writes ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('the pickle ran code')", ))


@pytest.fixture(autouse=True)
def _untrusted(monkeypatch):
    monkeypatch.delenv('BEVT_TRUST_CHECKPOINTS', raising=False)


@pytest.fixture(scope='module')
def bad(rel_media, rel_tokenizer, tmp_path_factory):
    """The malicious files, a shrunk toy config and its real checkpoint (2 iterations)."""
    root = tmp_path_factory.mktemp('untrusted')
    marker = str(root / 'MARKER')
    work = str(root / 'run')
    config = str(root / 'toy.py')
    cfg = toy_run.toy_config(rel_media, rel_tokenizer, work, config, max_iters=2,
                             ckpt_interval=2)
    run_cfg = cfg.copy()
    run_cfg.experiment_name = experiment_name('untrusted')
    Runner.from_cfg(run_cfg).train()
    real = osp.join(work, 'iter_2.pth')

    # a real pretraining checkpoint with the payload in its message hub
    ckpt = torch.load(real, map_location='cpu', weights_only=False)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer'} <= set(ckpt)
    ckpt['message_hub']['runtime_info']['note'] = RunsCode(marker)
    resume_dir = str(root / 'resume')
    os.makedirs(resume_dir)
    disguised = osp.join(resume_dir, 'iter_2.pth')
    torch.save(ckpt, disguised)
    with open(osp.join(resume_dir, 'last_checkpoint'), 'w') as f:
        f.write(disguised)

    plain = str(root / 'plain.pth')  # a backbone state dict
    state = {k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items()
             if k.startswith('backbone.')}
    torch.save(dict(state, evil=RunsCode(marker)), plain)

    tokenizer = str(root / 'tokenizer.pth')
    tok_state = torch.load(rel_tokenizer, weights_only=True)
    torch.save(dict(tok_state, hparams=RunsCode(marker)), tokenizer)
    return dict(root=str(root), marker=marker, config=config, cfg=cfg, real=real,
                disguised=disguised, resume_dir=resume_dir, plain=plain, tokenizer=tokenizer)


@pytest.fixture(autouse=True)
def _no_marker(bad):
    """Each test starts without the marker (one that ran the payload fails alone)."""
    if osp.exists(bad['marker']):
        os.remove(bad['marker'])


def _assert_refused(excinfo_or_text, bad, path, ours=True):
    """Nothing ran; bevt_mm's own loads name the file and the opt-in, stock loads give
    torch's refusal (and no hint of bevt_mm's opt-in, which they do not read)."""
    text = excinfo_or_text if isinstance(excinfo_or_text, str) else str(excinfo_or_text.value)
    assert not osp.exists(bad['marker']), 'the pickle ran code'
    assert 'exec' in text, text[-3000:]  # the refused global
    if ours:
        assert OPT_IN in text, text[-3000:]
        assert osp.basename(path) in text, text[-3000:]
    else:
        assert 'weights_only' in text and OPT_IN not in text, text[-3000:]


def test_the_payload_runs_when_unrestricted(bad, tmp_path):
    """The test files are real attacks: an unrestricted load runs their code."""
    marker = str(tmp_path / 'ran')
    path = str(tmp_path / 'p.pth')
    torch.save({'x': RunsCode(marker)}, path)
    torch.load(path, weights_only=False)
    assert osp.exists(marker)
    assert not osp.exists(bad['marker'])


# ---------------------------------------------------------------- runner entry points
def test_load_from(bad):
    cfg = bad['cfg'].copy()
    cfg.work_dir = osp.join(bad['root'], 'load_from')
    cfg.load_from = bad['disguised']
    cfg.experiment_name = experiment_name('untrusted')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(Exception) as err:
        runner.load_or_resume()
    _assert_refused(err, bad, bad['disguised'], ours=False)


@pytest.mark.slow
def test_resume_cli(bad, monkeypatch):
    """``tools/train.py CONFIG --resume`` (latest checkpoint of the work dir), its
    ``__main__`` run in this process."""
    monkeypatch.setenv('LOCAL_RANK', '0')  # (the tool sets it; restored after the test)
    text = _run_tool(osp.join(toy_run.ROOT, 'tools', 'train.py'), bad['config'],
                     '--work-dir', bad['resume_dir'], '--resume')
    _assert_refused(text, bad, bad['disguised'], ours=False)  # mmengine's resume


def test_tools_test_with_a_stock_recognizer(bad, tmp_path, toy_videos_small, monkeypatch):
    """``tools/test.py CONFIG CHECKPOINT`` with a stock MMAction2 recognizer config (its
    ``__main__`` in this process)."""
    monkeypatch.setenv('LOCAL_RANK', '0')
    from config_shrink import shrink_recognizer_config
    cfg = shrink_recognizer_config(
        Config.fromfile(osp.join(toy_run.ROOT, 'configs/toy/toy_finetune_swin_spatial.py')),
        toy_videos_small, str(tmp_path / 'work'))
    config = str(tmp_path / 'finetune.py')
    cfg.dump(config)
    text = _run_tool(osp.join(toy_run.ROOT, 'tools', 'test.py'), config, bad['plain'])
    _assert_refused(text, bad, bad['plain'], ours=False)


@pytest.fixture(scope='module')
def toy_videos_small(tmp_path_factory):
    from bevt_mm.testing.toy_data import make_video_set
    root = str(tmp_path_factory.mktemp('untrusted_videos'))
    lists = make_video_set(root, 'spatial', num_train=2, num_val=2, seed=0, size=64,
                           num_frames=8)
    return dict(train=lists['train'], val=lists['val'], root=osp.join(root, 'spatial'))


BACKBONES = {
    'BEVTSwinTransformer3D': dict(type='BEVTSwinTransformer3D', window_size=(2, 4, 4),
                                  arch=dict(embed_dims=16, depths=[1, 1, 2, 1],
                                            num_heads=[1, 1, 2, 2])),
    'BEVTTimeSformer': dict(type='BEVTTimeSformer', num_frames=4, img_size=64, patch_size=16,
                            embed_dims=32, num_heads=2, num_transformer_layers=2),
    'SwinTransformer3D (stock)': dict(type='SwinTransformer3D', pretrained2d=False,
                                      window_size=(2, 4, 4),
                                      arch=dict(embed_dims=16, depths=[1, 1, 2, 1],
                                                num_heads=[1, 1, 2, 2])),
}


@pytest.mark.parametrize('name', list(BACKBONES))
def test_backbone_pretrained(bad, name):
    from mmaction.registry import MODELS
    backbone = MODELS.build(dict(BACKBONES[name], pretrained=bad['plain']))
    with pytest.raises(Exception) as err:
        backbone.init_weights()
    _assert_refused(err, bad, bad['plain'], ours=False)  # mmengine's loader


# ---------------------------------------------------------------- more CLIs run in this process
def _run_tool(path, *argv):
    """Run a tool's ``__main__`` here (argparse and all); returns the error text."""
    saved = sys.argv
    sys.argv = [path, *argv]
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as err:
        return str(err.code)
    except Exception as err:  # noqa: BLE001
        return f'{type(err).__name__}: {err}'
    finally:
        sys.argv = saved
    raise AssertionError(f'{path} loaded the file')


@pytest.mark.parametrize('tool', ['authors_bevt_to_bevt_mm.py', 'bevt_image_to_joint.py',
                                  'bevt_timesformer_to_mmaction.py', 'bevt_to_mmaction_swin.py',
                                  'swin2d_to_bevt.py'])
def test_converter_cli(bad, tool, tmp_path):
    text = _run_tool(osp.join(CONVERT, tool), bad['disguised'], str(tmp_path / 'out.pth'))
    _assert_refused(text, bad, bad['disguised'])
    assert not osp.exists(tmp_path / 'out.pth')


def test_dalle_converter_cli(bad, dalle_pickles, tmp_path):
    text = _run_tool(osp.join(CONVERT, 'dalle_encoder_to_state_dict.py'), dalle_pickles['bad'],
                     str(tmp_path / 'out.pth'))
    _assert_refused(text, bad, dalle_pickles['bad'])
    assert not osp.exists(tmp_path / 'out.pth')


def test_mask_picture_tool_checkpoint(bad, tmp_path):
    text = _run_tool(MASKS_TOOL, bad['config'],
                     '--checkpoint', bad['disguised'], '--out', str(tmp_path / 'm.png'))
    _assert_refused(text, bad, bad['disguised'])


def test_mask_picture_tool_tokenizer_file(bad, tmp_path):
    text = _run_tool(MASKS_TOOL, bad['config'],
                     '--checkpoint', bad['real'], '--out', str(tmp_path / 'm.png'),
                     '--cfg-options', f'model.target_generator.checkpoint={bad["tokenizer"]}')
    _assert_refused(text, bad, bad['tokenizer'])


# ---------------------------------------------------------------- tokenizers
@pytest.fixture(scope='module')
def dalle_pickles(bad):
    """A genuine pickled ``dall_e.Encoder`` (as OpenAI released) and one carrying the payload."""
    dall_e = pytest.importorskip('dall_e')
    torch.manual_seed(0)
    enc = dall_e.Encoder(**TINY_DALLE)
    good = osp.join(bad['root'], 'encoder.pkl')
    torch.save(enc, good)
    enc.note = RunsCode(bad['marker'])
    evil = osp.join(bad['root'], 'evil_encoder.pkl')
    torch.save(enc, evil)
    return dict(good=good, bad=evil, encoder=enc)


def _vqkd_cfg():
    from bevt_mm.models.tokenizers.vqkd import VQKD_BASE_ENCODER
    enc = dict(VQKD_BASE_ENCODER, img_size=32,
               arch=dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64))
    return dict(type='VQKDTokenizer', encoder_config=enc, vocab_size=16, embed_dims=8)


@pytest.mark.parametrize('kind', ['VQVAETokenizer', 'VQKDTokenizer', 'DALLETokenizer',
                                  'DALLETokenizer (pickled module)'])
def test_tokenizer(bad, dalle_pickles, kind):
    from config_shrink import tiny_tokenizer_cfg
    from mmaction.registry import MODELS
    path = bad['tokenizer']
    if kind == 'VQVAETokenizer':
        cfg = tiny_tokenizer_cfg(path)
    elif kind == 'VQKDTokenizer':
        cfg = dict(_vqkd_cfg(), checkpoint=path)
    else:
        if kind.endswith('(pickled module)'):
            path = dalle_pickles['bad']
        cfg = dict(type='DALLETokenizer', checkpoint=path, **TINY_DALLE)
    with pytest.raises(Exception) as err:
        MODELS.build(cfg)
    _assert_refused(err, bad, path)


def test_genuine_dalle_pickle_loads_without_opt_in(dalle_pickles):
    """OpenAI's format (a pickled dall_e.Encoder) loads through the dall_e allowlist."""
    from mmaction.registry import MODELS
    tok = MODELS.build(dict(type='DALLETokenizer', checkpoint=dalle_pickles['good'],
                            **TINY_DALLE))
    for key, value in dalle_pickles['encoder'].state_dict().items():
        assert torch.equal(tok.encoder.state_dict()[key], value), key


def test_opt_in_is_for_our_tools_only(bad, monkeypatch, tmp_path):
    """With the opt-in, a file needing another global loads through bevt_mm's loader (its
    pickle runs), while mmengine's stock loader still refuses it."""
    import datetime

    from mmengine.runner.checkpoint import _load_checkpoint

    from bevt_mm.utils.safe_load import load_checkpoint_file
    path = str(tmp_path / 'trusted.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'day': datetime.date(2024, 1, 2)}},
               path)
    with pytest.raises(Exception) as err:
        load_checkpoint_file(path)
    assert OPT_IN in str(err.value) and 'datetime.date' in str(err.value)
    monkeypatch.setenv('BEVT_TRUST_CHECKPOINTS', '1')
    with pytest.warns(UserWarning, match='BEVT_TRUST_CHECKPOINTS'):
        ckpt = load_checkpoint_file(path)
    assert ckpt['meta']['day'] == datetime.date(2024, 1, 2)
    with pytest.raises(pickle.UnpicklingError, match='datetime.date'):
        _load_checkpoint(path, map_location='cpu')
    torch.save({'x': RunsCode(bad['marker'])}, path)
    with pytest.raises(pickle.UnpicklingError) as err:
        _load_checkpoint(path, map_location='cpu')
    _assert_refused(err, bad, path, ours=False)
