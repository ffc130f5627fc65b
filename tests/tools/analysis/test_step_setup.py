"""bevt_mm/analysis/step_setup.py: the benchmark's config preparation at config sizes."""
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(ROOT, 'configs/bevt/joint_swin_b.py')
TINY_ARCH = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2])
TINY_TOKENIZER = dict(_delete_=True, type='VQVAETokenizer', ch=8, ch_mult=(1, 1, 2, 4),
                      num_res_blocks=1, z_channels=8, embed_dim=8, vocab_size=32,
                      num_groups=4, random_init=True)
OPTIONS = {'model.target_generator': TINY_TOKENIZER, 'model.head.num_classes': 32,
           'model.backbone.window_size': (2, 4, 4)}
PRETRAIN_CONFIGS = ['bevt/joint_swin_b', 'bevt/image_stream_swin_b', 'bevt/video_only_swin_b',
                    'bevt/joint_timesformer_b', 'toy/toy_joint_swin', 'toy/toy_joint_timesformer']


def test_cfg_options_tokenizer_and_tiny_arch():
    from bevt_mm.analysis.step_setup import prepare_config
    cfg = prepare_config(CONFIG, OPTIONS, arch=TINY_ARCH, frames=4, size=64)
    assert cfg.model.target_generator.type == 'VQVAETokenizer'
    assert cfg.model.head.in_channels == 16 * 8
    cfg = prepare_config(CONFIG, None)
    # the recipe's DALL-E file is absent here: random weights, said in the notes
    assert cfg.model.target_generator.random_init and cfg.benchmark_notes


@pytest.mark.parametrize('name', PRETRAIN_CONFIGS, ids=osp.basename)
def test_defaults_are_the_config_as_shipped(name):
    """With default options every size comes from the config: adapting its pipelines to
    the benchmark's defaults changes nothing (the toy configs' 64-pixel crops included)."""
    from bevt_mm.analysis.step_setup import adapt_transform, prepare_config, train_datasets
    cfg = prepare_config(osp.join(ROOT, 'configs', name + '.py'))
    frames, size = cfg.benchmark_frames, cfg.benchmark_size
    view = None
    for ds in train_datasets(cfg):
        for t in ds['pipeline']:
            if t['type'] == 'TokenizerView':
                view = t['size']
    for ds in train_datasets(cfg):
        for t in ds['pipeline']:
            kw = {'base_size': cfg.benchmark_base_size} if 'benchmark_base_size' in cfg else {}
            adapted = adapt_transform(t, frames, size, view, **kw)
            assert adapted == dict(t), (name, t, adapted)
