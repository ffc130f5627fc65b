"""tools/analysis/temporal_dependence.py end to end on toy videos with tiny recognizers."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from bevt_mm.analysis.config import load_config


@pytest.fixture(scope='module')
def td(load_tool):
    """tools/analysis/temporal_dependence.py as a module."""
    return load_tool('analysis/temporal_dependence.py')


def tiny_recognizer_cfg(data_root: str, ann_file: str, backbone: str = 'swin',
                        num_classes: int = 4, clip_len: int = 8) -> dict:
    """A complete MMAction2 test config (dict) for a tiny stock recognizer.

    backbone='swin': Recognizer3D + SwinTransformer3D (2 stages, 16 channels)
    + I3DHead. backbone='frame': Recognizer3D + ResNet3d with 1x7x7 / 1x3x3
    kernels only and global average pooling (I3DHead): it treats each frame
    separately and averages over time, so it is exactly frame-order invariant.
    """
    if backbone == 'swin':
        bb = dict(type='SwinTransformer3D', arch=dict(embed_dims=16, depths=[1, 1],
                                                       num_heads=[1, 2]),
                  pretrained=None, pretrained2d=False, patch_size=(2, 4, 4),
                  window_size=(2, 4, 4),
                  drop_path_rate=0.0, out_indices=(1, ))
        in_channels = 32
    elif backbone == 'frame':
        bb = dict(type='ResNet3d', depth=18, pretrained=None, pretrained2d=False,
                  base_channels=8, num_stages=2, out_indices=(1, ), spatial_strides=(1, 2),
                  temporal_strides=(1, 1), dilations=(1, 1), conv1_kernel=(1, 7, 7),
                  inflate=(0, 0), with_pool2=False, norm_eval=False)
        in_channels = 16
    else:
        raise ValueError(backbone)
    test_pipeline = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1,
             test_mode=True),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 32)),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs'),
    ]
    return dict(
        default_scope='mmaction',
        model=dict(
            type='Recognizer3D', backbone=bb,
            cls_head=dict(type='I3DHead', in_channels=in_channels, num_classes=num_classes,
                          dropout_ratio=0.0, average_clips='prob'),
            data_preprocessor=dict(type='ActionDataPreprocessor', mean=[127.5] * 3,
                                   std=[58.0] * 3, format_shape='NCTHW')),
        test_dataloader=dict(
            batch_size=4, num_workers=0, persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(type='VideoDataset', ann_file=ann_file,
                         data_prefix=dict(video=data_root), pipeline=test_pipeline,
                         test_mode=True)),
        test_evaluator=dict(type='AccMetric'),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=100)),
        env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
    )


def save_random_checkpoint(cfg: dict, path: str, seed: int = 0) -> str:
    """Build ``cfg['model']`` with seeded random weights and save an mmengine-style checkpoint."""
    from mmaction.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(cfg['model'])
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict(seed=seed)), path)
    return path


def test_insertion_after_decode_or_sampler(td):
    pipe = [dict(type='DecordInit'), dict(type='SampleFrames', clip_len=4),
            dict(type='DecordDecode'), dict(type='Resize', scale=(-1, 8)),
            dict(type='FormatShape', input_format='NCTHW')]
    assert td.insertion_index(pipe) == 3
    out = td.insert_transform(pipe, dict(type='ShuffleFrames'))
    assert [s['type'] for s in out][3] == 'ShuffleFrames' and len(pipe) == 5
    # scoped type names and raw-frame decoding
    assert td.insertion_index([dict(type='mmaction.SampleFrames'),
                            dict(type='mmaction.RawFrameDecode')]) == 2
    # no decode step: after the sampler (the transform then reorders frame_inds)
    assert td.insertion_index([dict(type='UniformSample'), dict(type='FormatShape')]) == 1
    with pytest.raises(ValueError):
        td.insertion_index([dict(type='Resize')])
    assert td.insert_transform(pipe, None) == pipe


def test_load_installed_mmaction_config(td):
    cfg = load_config('mmaction::recognition/swin/'
                      'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
    assert cfg.model.backbone.type == 'SwinTransformer3D'
    pipe = cfg.test_dataloader.dataset.pipeline
    assert pipe[td.insertion_index(pipe) - 1]['type'] == 'DecordDecode'


def test_tool_end_to_end_tiny_swin(tmp_path, toy_temporal_videos, capsys, load_tool):
    data_root, ann = toy_temporal_videos
    cfg = tiny_recognizer_cfg(data_root, ann, backbone='swin')
    cfg_path = str(tmp_path / 'tiny_swin.py')
    Config(cfg).dump(cfg_path)
    ckpt = save_random_checkpoint(cfg, str(tmp_path / 'tiny_swin.pth'))
    out_dir = str(tmp_path / 'out')
    tool = load_tool('analysis/temporal_dependence.py')
    tool.main([cfg_path, ckpt, '--out-dir', out_dir, '--cfg-options',
               'test_dataloader.batch_size=8'])
    stdout = capsys.readouterr().out
    assert '| single_frame |' in stdout and '| shuffled |' in stdout
    res = json.load(open(osp.join(out_dir, 'results.json')))
    assert set(res['settings']) == {'normal', 'single_frame', 'shuffled'}
    for r in res['settings'].values():
        assert 0.0 <= r['top1'] <= 1.0
    assert res['settings']['normal']['delta_top1'] == 0.0
    assert res['num_classes'] == 4
    png = osp.join(out_dir, 'temporal_dependence.png')
    assert osp.getsize(png) > 1000 and open(png, 'rb').read(4) == b'\x89PNG'
    assert osp.exists(osp.join(out_dir, 'table.md'))


def test_frame_order_invariant_model_is_unchanged_by_shuffling(tmp_path, toy_temporal_videos, td):
    """A model that averages per-frame features: shuffled == normal, exactly per sample."""
    data_root, ann = toy_temporal_videos
    cfg = tiny_recognizer_cfg(data_root, ann, backbone='frame')
    ckpt = save_random_checkpoint(cfg, str(tmp_path / 'frame.pth'), seed=1)
    dump = dict(type='DumpResults', out_file_path=str(tmp_path / 'preds_{}.pkl'))
    results = {}
    for name, transform in (('normal', None), ('shuffled', dict(type='ShuffleFrames', seed=3)),
                            ('single_frame', dict(type='SingleFrame', index='first'))):
        c = Config(cfg)
        c.test_evaluator = [dict(type='AccMetric'),
                            dict(dump, out_file_path=str(tmp_path / f'preds_{name}.pkl'))]
        res = td.run_temporal_dependence(c, ckpt, str(tmp_path / 'out'),
                                      settings={name: transform}, plot=False)
        results[name] = res['settings'][name]['top1']
    import pickle

    import numpy as np
    scores = {n: np.stack([np.asarray(p['pred_score']) for p in
                           pickle.load(open(tmp_path / f'preds_{n}.pkl', 'rb'))])
              for n in results}
    assert results['shuffled'] == results['normal']
    np.testing.assert_allclose(scores['shuffled'], scores['normal'], rtol=0, atol=1e-5)
    # a repeated frame is not the same input: scores change
    assert np.abs(scores['single_frame'] - scores['normal']).max() > 1e-4
