"""Frozen-encoder probes: k-NN votes (known answers), linear probe, and the CLI on toy videos."""
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch

from bevt_mm.evaluation.knn import knn_top1, knn_votes
from bevt_mm.evaluation.linear import linear_probe_top1, standardize

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TOOL = osp.join(REPO, 'tools', 'analysis', 'probe.py')


def test_knn_votes_are_temperature_weighted_cosine_votes():
    """Query e0 against 4 training vectors with known cosines 1, 0.6, 0, -1; k=3, T=0.5."""
    train = torch.tensor([[2.0, 0.0], [0.6, 0.8], [0.0, 3.0], [-1.0, 0.0]],
                         dtype=torch.float64)  # cosines with e0: 1, 0.6, 0, -1
    labels = torch.tensor([0, 1, 1, 0])
    votes = knn_votes(train, labels, torch.tensor([[5.0, 0.0]]), num_classes=3, k=3,
                      temperature=0.5)
    # neighbours: cos 1 (class 0), 0.6 (class 1), 0 (class 1); the -1 one is not among k=3
    expected = torch.tensor([[math.exp(1 / 0.5), math.exp(0.6 / 0.5) + math.exp(0.0), 0.0]],
                            dtype=torch.float64)
    assert torch.allclose(votes, expected, rtol=1e-12, atol=0)
    # class 0 wins (7.39 > 3.32 + 1) although class 1 has more neighbours
    assert knn_top1(train, labels, torch.tensor([[5.0, 0.0]]), torch.tensor([0]), k=3,
                    temperature=0.5) == 100.0
    # with a high temperature the votes are nearly counts: class 1 (two neighbours) wins
    assert knn_top1(train, labels, torch.tensor([[5.0, 0.0]]), torch.tensor([1]), k=3,
                    temperature=100.0) == 100.0
    # k is capped at the training size; chunks give the same votes
    q = torch.randn(7, 2)
    assert torch.equal(knn_votes(train, labels, q, 3, k=50, chunk_size=2),
                       knn_votes(train, labels, q, 3, k=4))
    with pytest.raises(ValueError, match='training features but'):
        knn_votes(train, labels[:2], q)


def test_linear_probe_separates_separable_features_and_is_seeded():
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 16, generator=gen) * 3
    labels = torch.arange(200) % 4
    feats = centers[labels] + 0.5 * torch.randn(200, 16, generator=gen)
    feats = feats * 100 + 7  # scale and shift: standardization undoes them
    val_labels = torch.arange(40) % 4
    val = (centers[val_labels] + 0.5 * torch.randn(40, 16, generator=gen)) * 100 + 7
    top1 = linear_probe_top1(feats, labels, val, val_labels, seed=0)
    assert top1 == 100.0
    assert linear_probe_top1(feats, labels, val, val_labels, seed=0) == top1
    # labels that ignore the features: at most chance-like on held-out data
    noise = linear_probe_top1(torch.randn(200, 16, generator=gen), labels,
                              torch.randn(400, 16, generator=gen), torch.arange(400) % 4)
    assert noise < 40.0
    a, b = standardize(feats, val)
    assert torch.allclose(a.mean(0), torch.zeros(16), atol=1e-4)
    assert torch.allclose(a.std(0, unbiased=False), torch.ones(16), atol=1e-4)


@pytest.fixture(scope='module')
def probe_setup(tmp_path_factory):
    """12 train / 8 val toy-spatial videos (8 frames, 32 px), the toy fine-tuning config with
    4-frame clips, and a BEVT pretraining checkpoint of toy_joint_swin.py (random weights)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import bevt_mm  # noqa: F401
    from bevt_mm.testing.toy_data import make_video_set
    from mmaction.registry import MODELS
    root = tmp_path_factory.mktemp('probe')
    lists = make_video_set(str(root), 'spatial', num_train=12, num_val=8, seed=0, size=32,
                           num_frames=8)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'toy', 'toy_finetune_swin_spatial.py'))
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'SampleFrames':
            t['clip_len'] = 4
    prefix = dict(video=str(root / 'spatial'))
    cfg.train_dataloader.dataset.update(ann_file=lists['train'], data_prefix=prefix)
    cfg.val_dataloader.dataset.update(ann_file=lists['val'], data_prefix=prefix)
    config = str(root / 'probe_cfg.py')
    cfg.dump(config)
    init_default_scope('mmaction')
    bevt_cfg = Config.fromfile(osp.join(REPO, 'configs', 'toy', 'toy_joint_swin.py')).model
    bevt_cfg.target_generator.pop('checkpoint')
    bevt_cfg.target_generator['random_init'] = True
    torch.manual_seed(1)
    bevt = MODELS.build(bevt_cfg)
    ckpt = str(root / 'bevt_epoch_1.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=bevt.state_dict()), ckpt)
    return dict(root=root, config=config, bevt=ckpt, bevt_model=bevt)


def test_probe_cli_random_init_and_bevt_checkpoint(probe_setup):
    out = str(probe_setup['root'] / 'out')
    proc = subprocess.run([sys.executable, TOOL, probe_setup['config'], probe_setup['bevt'],
                           '--random-init', '--out-dir', out, '--k', '5'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '| random-init | random-init |' in proc.stdout
    with open(osp.join(out, 'probe.json')) as f:
        report = json.load(f)
    assert report['settings']['k'] == 5 and report['settings']['temperature'] == 0.07
    (rand, bevt) = report['results']
    assert (rand['kind'], bevt['kind']) == ('random-init', 'bevt')
    for r in (rand, bevt):
        assert (r['num_train'], r['num_val'], r['num_classes'], r['feature_dim']) == (
            12, 8, 4, 256)
        for key in ('knn_top1', 'linear_top1'):
            assert r[key] in [100 * i / 8 for i in range(9)]
    assert osp.isfile(osp.join(out, 'probe.md'))


def test_probe_loads_each_checkpoint_kind_into_the_same_backbone(probe_setup, tmp_path):
    """BEVT checkpoint, its export and a recognizer checkpoint give identical features."""
    from mmengine.config import Config

    from bevt_mm.evaluation.encoder import backbone_state_dict, load_encoder_weights
    from bevt_mm.evaluation.features import (bevt_features, build_probe_loader,
                                                 extract_features, recognizer_features)
    from probe import build_recognizer, probe_datasets
    cfg = Config.fromfile(probe_setup['config'])
    exported, kind = backbone_state_dict(probe_setup['bevt'], (4, 4, 4))
    assert kind == 'bevt' and 'norm3.weight' in exported
    torch.save(exported, tmp_path / 'backbone.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in exported.items()}),
               tmp_path / 'recognizer.pth')
    loader = build_probe_loader(probe_datasets(cfg)['val'], batch_size=4)
    feats = {}
    for name, path in (('bevt', probe_setup['bevt']), ('backbone', tmp_path / 'backbone.pth'),
                       ('recognizer', tmp_path / 'recognizer.pth')):
        model = build_recognizer(cfg, seed=3)
        assert load_encoder_weights(model, str(path)) == name
        feats[name] = extract_features(recognizer_features(model), loader, progress=False)[0]
    assert torch.equal(feats['bevt'], feats['backbone'])
    assert torch.equal(feats['bevt'], feats['recognizer'])
    # the hook's encoder (inside the BEVT model, decoder norm) gives nearly the same features:
    # 4-frame clips shrink the 4x4x4 windows, where BEVT's relative-bias lookup and stock
    # Swin's differ slightly (measured: max abs difference ~3e-3)
    model = probe_setup['bevt_model'].eval()
    inside = extract_features(bevt_features(model), loader, progress=False)[0]
    assert torch.nn.functional.cosine_similarity(inside, feats['bevt']).min() > 0.999
    bad = build_recognizer(Config.fromfile(probe_setup['config']))
    torch.save({'layers.0.x': torch.zeros(1)}, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match=r'bad.pth \(backbone checkpoint\) does not fit'):
        load_encoder_weights(bad, str(tmp_path / 'bad.pth'))


def test_probe_features_skip_unreadable_clips_and_count_them(tmp_path):
    """A probe set holding a real truncated download and an audio-only mp4: the readable
    clips give features (labels kept aligned), the bad files are left out and counted."""
    sys.path.insert(0, osp.join(REPO, 'tests', 'reliability'))
    from real_faults import write_audio_only_mp4, write_faststart_mp4, write_truncated_mp4

    from bevt_mm.evaluation.features import build_probe_loader, extract_features
    for i in range(3):
        write_faststart_mp4(str(tmp_path / f'good{i}.mp4'), num_frames=8, size=32, seed=i)
    write_truncated_mp4(str(tmp_path / 'truncated.mp4'), num_frames=32, size=32)
    write_audio_only_mp4(str(tmp_path / 'audio_only.mp4'))
    ann = tmp_path / 'list.txt'
    ann.write_text('good0.mp4 0\ntruncated.mp4 1\ngood1.mp4 2\naudio_only.mp4 3\ngood2.mp4 1\n')
    pipeline = [dict(type='DecordInit'),
                dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1,
                     test_mode=True),
                dict(type='DecordDecode'), dict(type='Resize', scale=(16, 16), keep_ratio=False),
                dict(type='FormatShape', input_format='NCTHW'), dict(type='PackActionInputs')]
    loader = build_probe_loader(dict(type='VideoDataset', ann_file=str(ann),
                                     data_prefix=dict(video=str(tmp_path)), pipeline=pipeline,
                                     test_mode=True), batch_size=2)

    def encode(batch):  # the clip's mean colour: a feature that needs the decoded frames
        return torch.stack([x.float().mean(dim=(1, 2, 3, 4)) for x in batch['inputs']])

    feats, labels = extract_features(encode, loader, progress=False)
    assert labels.tolist() == [0, 2, 1]
    assert feats.shape == (3, 1) and bool((feats > 0).all())
    assert loader.dataset.dataset.num_failed == 2
