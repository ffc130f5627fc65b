"""tools/analysis/probe.py: the CLI on toy videos, and each checkpoint kind it loads
(the probe functions themselves: tests/evaluation/)."""
import json
import os.path as osp

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


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


def test_probe_cli_random_init_and_bevt_checkpoint(probe_setup, load_tool, capsys):
    """The CLI's ``main`` with its command-line arguments, in this process."""
    out = str(probe_setup['root'] / 'out')
    load_tool('analysis/probe.py').main([probe_setup['config'], probe_setup['bevt'],
                                         '--random-init', '--out-dir', out, '--k', '5'])
    assert '| random-init | random-init |' in capsys.readouterr().out
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
    from bevt_mm.analysis.probe import build_recognizer, probe_datasets
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
