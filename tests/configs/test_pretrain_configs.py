"""BEVT pretraining configs: the recipe's numbers, and one epoch of each on small inputs."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from bevt_mm.utils.safe_load import load_checkpoint_file
from config_shrink import shrink_bevt_config

from experiment_names import experiment_name

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', 'bevt', '*.py'))
                  + glob.glob(osp.join(ROOT, 'configs', 'toy', '*.py'))
                  if not osp.basename(p).startswith(('finetune_', 'toy_finetune_'))
                  and 'timesformer' not in osp.basename(p))


def _cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs', 'bevt', name))


def test_pretrain_configs_exist():
    assert {'joint_swin_b.py', 'image_stream_swin_b.py', 'video_only_swin_b.py',
            'toy_joint_swin.py'} <= {
        osp.basename(p) for p in PRETRAIN}


def test_joint_recipe_numbers():
    cfg = _cfg('joint_swin_b.py')
    backbone = cfg.model.backbone
    assert backbone.type == 'BEVTSwinTransformer3D' and backbone.arch == 'base'
    assert backbone.window_size == (8, 7, 7) and backbone.patch_size == (2, 4, 4)
    assert backbone.drop_path_rate == 0.3 and backbone.qkv_bias is True
    assert cfg.model.head.num_classes == 8192 and cfg.model.head.in_channels == 1024
    assert cfg.model.target_generator.type == 'DALLETokenizer'
    # batch composition: 8 videos + 64 images per GPU, images repeated 5x per epoch
    loader = cfg.train_dataloader
    assert loader.sampler.type == 'DualDatasetSampler'
    assert (loader.sampler.videos_per_gpu, loader.sampler.images_per_gpu) == (8, 64)
    assert loader.batch_size == 72 and loader.sampler.image_repeat == 5
    video_ds, image_ds = loader.dataset.datasets
    vp = {t.type: t for t in video_ds.pipeline}
    ip = {t.type: t for t in image_ds.pipeline}
    assert (vp['SampleFrames'].clip_len, vp['SampleFrames'].frame_interval) == (16, 8)
    for p in (vp, ip):
        assert p['RandomRescale'].scale_range == (256, 320)
        assert p['RandomRescale'].interpolation == 'bicubic'
        assert p['RandomCrop'].size == 224 and p['Flip'].flip_ratio == 0.5
        assert p['TokenizerView'].size == 112 and p['TokenizerView'].interpolation == 'lanczos'
    jitter = ip['ColorJitter']
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == (0.4, 0.4, 0.4, 0)
    assert 'ColorJitter' not in vp
    block, tube = ip['BlockMaskGenerator'], vp['TubeMaskGenerator']
    for m in (block, tube):
        assert m.input_size == 14 and m.num_masking_patches == 98 and m.min_num_patches == 16
        assert m.min_aspect == 0.3
    assert tube.masked_tube_range == (0.5, 1.0) and tube.temporal_patch == 2
    assert tube.num_frames == 16
    # optimizer and schedule
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper' and opt.accumulative_counts == 2
    assert opt.clip_grad.max_norm == 3.0
    assert opt.optimizer.type == 'AdamW' and opt.optimizer.lr == 5e-4
    assert opt.optimizer.betas == (0.9, 0.999) and opt.optimizer.weight_decay == 0.05
    assert opt.paramwise_cfg.norm_decay_mult == 0.0
    assert set(opt.paramwise_cfg.custom_keys) == {'relative_position_bias_table',
                                                  'absolute_pos_embed'}
    assert all(v.decay_mult == 0.0 for v in opt.paramwise_cfg.custom_keys.values())
    # mmcv 1.x schedule of the released config: warm-up factor from 0.1 over 10 epochs on a
    # cosine spanning all 150 epochs from iteration 0, per iteration (curve: test_recipe_lr.py)
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'MMCVLinearWarmupLR' and warmup.warmup_epochs == 10
    assert warmup.warmup_ratio == 0.1 and warmup.convert_to_iter_based
    assert cosine.type == 'CosineAnnealingLR' and cosine.eta_min == 0
    assert cosine.begin == 0 and 'end' not in cosine and 'T_max' not in cosine  # = max_epochs
    assert cosine.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == 150
    assert cfg.auto_scale_lr.base_batch_size == 32 * 72  # the unit of batch_size
    assert cfg.load_from.endswith('joint_init.pth')


def test_weight_decay_exemptions_take_effect(bevt_media, tiny_tokenizer_ckpt, tmp_path):
    """Norms, relative position tables get no decay; linear weights do."""
    from mmengine.optim import build_optim_wrapper
    cfg = shrink_bevt_config(_cfg('joint_swin_b.py'), bevt_media, tiny_tokenizer_ckpt,
                             str(tmp_path))
    from mmaction.registry import MODELS
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            decay[names[id(p)]] = group['weight_decay']
    table = [n for n in decay if 'relative_position_bias_table' in n]
    norms = [n for n in decay if '.norm' in n and n.endswith('weight')]
    assert table and norms
    assert all(decay[n] == 0.0 for n in table + norms)
    assert decay['backbone.layers.0.blocks.0.mlp.fc1.weight'] == 0.05
    assert all('target_generator' not in n for n in decay), 'the tokenizer is frozen'


def test_tokenizer_switch_is_one_base_line():
    for name, kind, view in (('peco', 'VQVAETokenizer', 112), ('vqkd', 'VQKDTokenizer', 224)):
        text = open(osp.join(ROOT, 'configs/bevt/joint_swin_b.py')).read().replace(
            "'../_base_/tokenizers/dalle.py'", f"'../_base_/tokenizers/{name}.py'")
        cfg = Config.fromstring(text.replace("'../_base_/", f"'{ROOT}/configs/_base_/"), '.py')
        assert cfg.model.target_generator.type == kind
        views = [t.size for t in cfg.train_dataloader.dataset.datasets[0].pipeline
                 if t.type == 'TokenizerView']
        assert views == [view]


@pytest.mark.slow
@pytest.mark.parametrize('path', PRETRAIN, ids=osp.basename)
def test_pretrain_config_trains_one_epoch(path, bevt_media, tiny_tokenizer_ckpt, tmp_path):
    cfg = shrink_bevt_config(Config.fromfile(path), bevt_media, tiny_tokenizer_ckpt,
                             str(tmp_path / 'work'))
    cfg.experiment_name = experiment_name('pretrain')
    runner = Runner.from_cfg(cfg)
    before = {k: v.detach().clone() for k, v in runner.model.named_parameters()}
    runner.train()
    assert runner.iter >= 1
    changed = [k for k, v in runner.model.named_parameters()
               if not torch.equal(v.detach(), before[k])]
    assert any(k.startswith('backbone.') for k in changed)
    assert not any(k.startswith('target_generator.') for k in changed)
    # what it saved loads with the restricted loader (weights_only + allowlist)
    ckpt = load_checkpoint_file(osp.join(cfg.work_dir, 'epoch_1.pth'))
    assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'rng_states'} <= set(ckpt)
    scalars = runner.message_hub.log_scalars
    losses = [k for k in scalars if 'loss' in k]
    assert losses and all(torch.isfinite(torch.tensor(scalars[k].current())) for k in losses)
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))
