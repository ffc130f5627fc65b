# BEVT joint image + video pretraining of TimeSformer-B (divided space-time, 8x224, patch 16).
#
# The paper's second backbone: the BEVT recipe of the Swin joint run (same augmentations,
# tokenizer view, masks, optimizer and schedule; DESIGN.md section 2) on MMAction2's
# TimeSformer. Differences that follow from the backbone:
# - 8 frames with interval 32, as MMAction2's TimeSformer K400 recipe (fine-tuning sees the
#   clips it was pretrained on); a temporal patch of 1, so the tube mask has one temporal
#   position per frame (temporal_patch=1) and targets are every frame's 14x14 tokens;
# - inputs normalized as MMAction2's TimeSformer recipes ((x - 127.5) / 127.5);
# - no weight decay on pos_embed, time_embed, cls_token and mask_token.
# Model: configs/_base_/models/bevt_timesformer_b.py. Export the encoder for fine-tuning with
#   python tools/convert/bevt_timesformer_to_mmaction.py work_dirs/joint_timesformer_b/epoch_150.pth \
#       work_dirs/bevt_timesformer_b_backbone.pth
# then configs/bevt/finetune_timesformer_b_k400.py (load_from=the export).
# Initialization (optional): a BEVT image-stream / ViT-B checkpoint in this backbone's keys via
# load_from=..., or a ViT-B in MMAction2's layout via model.backbone.pretrained=... (the stock
# conversion copies spatial attention to the temporal step; patch_embed_2d copies patch_embed).
_base_ = ['../_base_/models/bevt_timesformer_b.py', '../_base_/bevt_runtime.py']

num_frames = 8
crop_size = 224
token_grid = crop_size // 16  # 14x14 tokens = 16x16 patches of the 224 crop
tokenizer_size = 112  # the DALL-E view: 112 / 8 = 14

video_pipeline = [
    dict(type='DecordInit'),
    dict(type='CheckVideoLength', min_frames=num_frames),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=32, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(256, 320), interpolation='bicubic'),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TokenizerView', size=tokenizer_size),
    dict(type='TubeMaskGenerator', num_frames=num_frames, temporal_patch=1,
         masked_tube_range=(0.5, 1.0), input_size=token_grid, num_masking_patches=98,
         min_num_patches=16),
    dict(type='PackBEVTInputs', modality='video'),
]
image_pipeline = [
    dict(type='LoadImageAsClip'),
    dict(type='RandomRescale', scale_range=(256, 320), interpolation='bicubic'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TokenizerView', size=tokenizer_size),
    dict(type='BlockMaskGenerator', input_size=token_grid, num_masking_patches=98,
         min_num_patches=16),
    dict(type='PackBEVTInputs', modality='image'),
]
video_dataset = dict(
    type='RobustVideoDataset',
    ann_file='data/kinetics400/kinetics400_train_list_videos.txt',
    data_prefix=dict(video='data/kinetics400/videos_train'),
    pipeline=video_pipeline)
image_dataset = dict(
    type='ImageListDataset',
    ann_file='data/imagenet/meta/train.txt',
    data_prefix=dict(img='data/imagenet/train'),
    pipeline=image_pipeline)

videos_per_gpu, images_per_gpu = 8, 64
train_dataloader = dict(
    batch_size=videos_per_gpu + images_per_gpu,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DualDatasetSampler', videos_per_gpu=videos_per_gpu,
                 images_per_gpu=images_per_gpu, image_repeat=5),
    dataset=dict(type='ConcatDataset', datasets=[video_dataset, image_dataset]))

max_epochs = 150
warmup_epochs = 10
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)

optim_wrapper = dict(
    type='AmpOptimWrapper',
    accumulative_counts=2,
    clip_grad=dict(max_norm=3.0, norm_type=2),
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'backbone.pos_embed': dict(decay_mult=0.0),
            'backbone.time_embed': dict(decay_mult=0.0),
            'backbone.cls_token': dict(decay_mult=0.0),
            'backbone.mask_token': dict(decay_mult=0.0),
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]

# 32 GPUs x (8 videos + 64 images); --auto-scale-lr scales the lr for other totals.
auto_scale_lr = dict(enable=False, base_batch_size=32 * (videos_per_gpu + images_per_gpu))
