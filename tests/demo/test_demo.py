"""``demo/toy_demo.py`` (the README's ``make demo``) end to end, at a tiny size."""
import json
import os.path as osp

import pytest
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.slow
def test_demo_runs_every_step_and_prints_the_summary(tmp_path, capsys, load_tool):
    """The demo's real commands, with a few videos and one epoch each: data, tokenizer,
    pretraining, mask picture, export, both fine-tunings and the temporal-dependence tests."""
    demo = load_tool('demo/toy_demo.py')
    work, data = str(tmp_path / 'work'), str(tmp_path / 'data')
    summary = demo.main(['--work-dir', work, '--data-root', data, '--videos', '8', '4',
                         '--images', '16', '4', '--pretrain-videos', '4',
                         '--tokenizer-steps', '4', '--pretrain-epochs', '1',
                         '--finetune-epochs', '1', '--label-scarce-per-class', '1',
                         '--label-scarce-epochs', '1'])
    out = capsys.readouterr().out

    # every step ran as a printed command
    for step in ('tools/make_toy_data.py', 'tools/train_tokenizer.py', 'tools/train.py',
                 'tools/analysis/visualize_masks.py', 'tools/convert/bevt_to_mmaction_swin.py',
                 'tools/analysis/temporal_dependence.py'):
        assert f'{step} ' in out, step
    assert set(summary['seconds']) == {
        'toy data', 'tokenizer (VQ-VAE)', 'BEVT joint pretraining', 'mask picture',
        'export encoder', 'fine-tune toy-spatial', 'test toy-spatial (normal/single/shuffled)',
        'fine-tune toy-temporal', 'test toy-temporal (normal/single/shuffled)',
        *(f'fine-tune toy-{kind} on 1 videos per class ({init})'
          for kind in ('spatial', 'temporal') for init in ('bevt', 'scratch'))}

    # the data it made is what it asked for, and a second run reuses it
    with open(osp.join(data, 'meta.json')) as f:
        assert json.load(f)['counts'] == dict(images=[16, 4], spatial=[8, 4], temporal=[8, 4])
    assert demo.data_is_current(data, (8, 4), (16, 4))
    assert not demo.data_is_current(data)  # the default counts differ
    with open(osp.join(data, 'pretrain_videos.txt')) as f:
        assert len(f.read().split('\n')[:-1]) == 8  # 4 per set

    # masked-token accuracy of both streams at start and end of pretraining
    for key in ('acc_image', 'acc_video', 'loss_image', 'loss_video'):
        v = summary['pretraining'][key]
        assert set(v) == {'start', 'end'}
    for key in ('acc_image', 'acc_video'):
        assert 0 <= summary['pretraining'][key]['end'] <= 100
    # top-1 of both sets under the three settings, on the 4 val videos
    for kind in ('spatial', 'temporal'):
        res = summary['finetuning'][kind]
        assert set(res) == {'normal', 'single_frame', 'shuffled'}
        assert all(r in (0.0, 0.25, 0.5, 0.75, 1.0) for r in res.values())
    assert Image.open(summary['mask_picture']).size[0] > 0
    # BEVT vs scratch / random init where labels are scarce, for both sets
    for kind in ('spatial', 'temporal'):
        ls = summary['label_scarce'][kind]
        assert ls['per_class'] == 1 and ls['bevt'] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert ls['scratch'] in (0.0, 0.25, 0.5, 0.75, 1.0)
    # the ProbeHook ran at the start (random init) and after the epoch (BEVT), on both sets
    hook = summary['pretraining']['probe_knn_top1']
    assert set(hook) == {'toy_spatial', 'toy_temporal'}
    for kind in ('spatial', 'temporal'):
        assert summary['probe'][kind] == dict(bevt=dict(knn_top1=hook[f'toy_{kind}']['end']),
                                              random=dict(knn_top1=hook[f'toy_{kind}']['start']))
    assert Image.open(summary['pretraining_picture']).size[0] > 0
    assert 'from BEVT' in out and 'from scratch' in out and 'random init' in out
    with open(osp.join(work, 'summary.json')) as f:
        saved = json.load(f)
    assert saved['finetuning'] == summary['finetuning']
    assert saved['label_scarce'] == summary['label_scarce']
    assert 'BEVT toy demo: summary' in out and 'toy-temporal' in out


@pytest.mark.slow
def test_epoch_overrides_stretch_the_schedule(load_tool):
    """--pretrain-epochs / --finetune-epochs move the cosine schedule with the run length, so a
    longer run does not train at the final lr (0) after the config's last epoch."""
    import argparse

    from mmengine.config import Config, DictAction
    demo = load_tool('demo/toy_demo.py')
    for name in ('toy_joint_swin.py', 'toy_finetune_swin_temporal.py'):
        path = osp.join(REPO, 'configs', 'toy', name)
        assert demo.epoch_overrides(path, None) == []
        for epochs in (1, 3, 20):
            parser = argparse.ArgumentParser()
            parser.add_argument('--o', nargs='+', action=DictAction)
            opts = parser.parse_args(['--o', *demo.epoch_overrides(path, epochs)]).o
            cfg = Config.fromfile(path)
            base_last = cfg.train_cfg.max_epochs
            cfg.merge_from_dict(opts)
            assert cfg.train_cfg.max_epochs == epochs
            if 'val_begin' in cfg.train_cfg:
                assert cfg.train_cfg.val_begin <= epochs  # validates at the last epoch
            warmup, cosine = cfg.param_scheduler
            assert warmup.end == 1
            # the cosine ends with the run (Runner: end = max_epochs; shorter runs: never starts)
            assert cosine.type == 'RunCosineAnnealingLR' and 'end' not in cosine
            assert 'T_max' not in cosine and base_last


def test_run_parallel_starts_a_step_after_the_steps_it_needs(tmp_path, load_tool):
    """The demo's queue: a step starts only once its ``after`` steps have finished (a test after
    its fine-tuning), a callable command is built when its step starts (reading what an earlier
    step wrote), and steps without dependencies fill the free cores meanwhile."""
    import sys

    import pytest
    demo = load_tool('demo/toy_demo.py')
    out = tmp_path / 'written.txt'

    def write(text, delay=0.0):
        return [sys.executable, '-c', f'import time; time.sleep({delay}); '
                f'open({str(out)!r}, "a").write({text!r} + "\\n")']

    log = {}
    demo.run_parallel([
        ('slow', write('slow', 0.6)),
        ('needs slow', lambda: write('needs slow saw ' + out.read_text().replace('\n', ',')),
         ['slow']),
        ('free', write('free')),
    ], log, str(tmp_path / 'logs'), workers=2)
    lines = out.read_text().split('\n')[:-1]
    assert lines == ['free', 'slow', 'needs slow saw free,slow,']
    assert set(log) == {'slow', 'needs slow', 'free'}
    assert (tmp_path / 'logs' / 'needs_slow.log').exists()
    with pytest.raises(ValueError, match='unknown steps'):
        demo.run_parallel([('a', write('a'), ['b'])], log, str(tmp_path / 'logs'))
    with pytest.raises(ValueError, match='wait on each other'):
        demo.run_parallel([('a', write('a'), ['b']), ('b', write('b'), ['a'])], log,
                          str(tmp_path / 'logs'))
