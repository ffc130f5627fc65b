# Toy BEVT joint pretraining: the joint recipe (joint_swin_b.py) at toy size, for CPUs.
# Data from tools/make_toy_data.py (64x64 frames); the tokenizer is our small VQ-VAE trained
# on the toy images (configs/_base_/tokenizers/toy_vqvae.py). What changes vs the recipe:
# sizes (a tiny Swin, 8-frame 64x64 clips, 4x4 token grid, small batches, short schedule),
# fp32 and lr for the small batch; model structure, pipeline, masks, losses and sampler are
# the recipe's (same bases as joint_swin_b.py, with the toy tokenizer base).
# Toy numbers, no source: sizes, lr 1e-3, 4 epochs and the schedule (linear warm-up from 0.1
# over 1 epoch, then a cosine to the end of the run; not the recipe's mmcv-style curve) are ours,
# chosen for a 2-core CPU; the demo's results were measured with them.
# --auto-scale-lr (base 1 CPU x 12 samples = 4 videos + 8 images): 8 GPUs -> lr 8e-3,
# 32 GPUs -> lr 3.2e-2.
#
#   python tools/train.py configs/toy/toy_joint_swin.py
_base_ = [
    '../_base_/bevt_runtime.py',
    '../_base_/models/bevt_swin_b.py',
    '../_base_/tokenizers/toy_vqvae.py',
]

load_from = None  # toy runs start from scratch

model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=32, depths=[1, 1, 2, 1],
                            num_heads=[1, 2, 4, 8]),
                  window_size=(4, 4, 4), drop_path_rate=0.1,
                  # 64 px here and 32 px in the toy fine-tuning shrink the 4x4 window of the late
                  # stages to the map; the stock lookup (the default) pretrains exactly what the
                  # stock Swin of toy_finetune_swin_*.py fine-tunes
                  relative_bias_lookup='mmaction'),
    head=dict(in_channels=256, num_classes={{_base_.tokenizer_vocab_size}}),
    target_generator={{_base_.tokenizer}})

videos_per_gpu = 4
images_per_gpu = 8
num_frames = 8
crop_size = 64
token_grid = crop_size // 16  # 4
num_masking_patches = 8  # of 4 x 4 (the recipe's 50%)
tokenizer_view_size = {{_base_.tokenizer_view_size}}

data_root = 'data/toy'
video_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='CheckVideoLength', min_frames=num_frames),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(64, 80), interpolation='bicubic'),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TokenizerView', size=tokenizer_view_size, interpolation='lanczos'),
    dict(type='TubeMaskGenerator', input_size=token_grid, num_frames=num_frames,
         temporal_patch=2, masked_tube_range=(0.5, 1.0),
         num_masking_patches=num_masking_patches, min_num_patches=2, min_aspect=0.3),
    dict(type='PackBEVTInputs', modality='video'),
]
image_pipeline = [
    dict(type='LoadImageAsClip'),
    dict(type='RandomRescale', scale_range=(64, 80), interpolation='bicubic'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TokenizerView', size=tokenizer_view_size, interpolation='lanczos'),
    dict(type='BlockMaskGenerator', input_size=token_grid,
         num_masking_patches=num_masking_patches, min_num_patches=2, min_aspect=0.3),
    dict(type='PackBEVTInputs', modality='image'),
]
# Both toy video sets (spatial + temporal, train split) without their labels.
video_dataset = dict(type='RobustVideoDataset', ann_file=f'{data_root}/pretrain_videos.txt',
                     data_prefix=dict(video=data_root), pipeline=video_pipeline)
image_dataset = dict(type='ImageListDataset', ann_file=f'{data_root}/images/train_list.txt',
                     data_prefix=dict(img=f'{data_root}/images'), pipeline=image_pipeline)
train_dataloader = dict(
    batch_size=videos_per_gpu + images_per_gpu,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    sampler=dict(type='DualDatasetSampler', videos_per_gpu=videos_per_gpu,
                 images_per_gpu=images_per_gpu, image_repeat=1, epoch_length='video'),
    dataset=dict(type='ConcatDataset', datasets=[video_dataset, image_dataset]))

max_epochs = 4
warmup_epochs = 1
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
optim_wrapper = dict(type='OptimWrapper',
                     constructor='FrozenAwareOptimWrapperConstructor',  # quiet frozen tokenizer
                     clip_grad=dict(max_norm=3.0, norm_type=2),
                     optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
                     paramwise_cfg=dict(norm_decay_mult=0.0, custom_keys={
                         'relative_position_bias_table': dict(decay_mult=0.0),
                         'absolute_pos_embed': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    # no `end`/`T_max`: the cosine ends with the run (train_cfg.max_epochs sets the length)
    dict(type='RunCosineAnnealingLR', eta_min=0, by_epoch=True, begin=warmup_epochs,
         convert_to_iter_based=True),
]
# --auto-scale-lr base: the toy's one process x 12 samples (the unit of batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=videos_per_gpu + images_per_gpu)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=2))
# k-NN probe of the encoder (k=20, T=0.07 as DINO) on the first 96 train / 48 val videos of both
# labeled toy sets, at the start and after every epoch; logs probe/knn_top1 and
# probe/toy_spatial/knn_top1, probe/toy_temporal/knn_top1 (%) to the log and scalars.json.
# Clips as in pretraining (8 frames, interval 2, 64 px), deterministic.
probe_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=2, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(crop_size, crop_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
probe_set = dict(train='train_list.txt', val='val_list.txt', num_train=96, num_val=48)
# (the reliability hooks are named entries of default_hooks, configs/_base_/bevt_runtime.py:
# custom_hooks=[] drops the probe only)
custom_hooks = [
    dict(type='ProbeHook', data_root=data_root, pipeline=probe_pipeline, interval=1,
         at_start=True, sets=dict(toy_spatial=dict(probe_set, data_prefix='spatial'),
                                  toy_temporal=dict(probe_set, data_prefix='temporal'))),
]
log_processor = dict(window_size=10)
randomness = dict(seed=0)
work_dir = 'work_dirs/toy/pretrain'
