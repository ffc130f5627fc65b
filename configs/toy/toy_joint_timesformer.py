# Toy BEVT joint pretraining with a TimeSformer encoder: toy_joint_swin.py (data, toy
# tokenizer, masks, sampler, schedule) with the backbone of joint_timesformer_b.py at toy size.
# What changes vs toy_joint_swin.py is what joint_timesformer_b.py changes vs joint_swin_b.py:
# BEVTTimeSformer + BEVTPlainHead, a temporal patch of 1 (tube mask per frame), inputs
# normalized as MMAction2's TimeSformer recipes, no decay on pos/time embeddings and cls token.
# Toy numbers (toy_joint_swin.py's), no source.
# --auto-scale-lr (base 1 CPU x 12 samples): 8 GPUs -> lr 8e-3, 32 GPUs -> lr 3.2e-2.
#
#   python tools/train.py configs/toy/toy_joint_timesformer.py
_base_ = './toy_joint_swin.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='BEVTTimeSformer',
        num_frames={{_base_.num_frames}},
        img_size={{_base_.crop_size}},
        patch_size=16,  # 64x64 crops -> the 4x4 token grid of the 32x32 tokenizer view
        embed_dims=64,
        num_heads=4,
        num_transformer_layers=4,
        attention_type='divided_space_time',
        norm_cfg=dict(type='LN', eps=1e-6),
        drop_path_rate=0.1,
        mask_token=True,
        pretrained=None),
    head=dict(
        _delete_=True,
        type='BEVTPlainHead',
        in_channels=64,
        num_classes={{_base_.tokenizer_vocab_size}},
        loss=dict(type='CrossEntropyLoss')),
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]))

video_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='CheckVideoLength', min_frames={{_base_.num_frames}}),
    dict(type='SampleFrames', clip_len={{_base_.num_frames}}, frame_interval=2, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='RandomRescale', scale_range=(64, 80), interpolation='bicubic'),
    dict(type='RandomCrop', size={{_base_.crop_size}}),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TokenizerView', size={{_base_.tokenizer_view_size}}, interpolation='lanczos'),
    dict(type='TubeMaskGenerator', input_size={{_base_.token_grid}},
         num_frames={{_base_.num_frames}}, temporal_patch=1, masked_tube_range=(0.5, 1.0),
         num_masking_patches={{_base_.num_masking_patches}}, min_num_patches=2, min_aspect=0.3),
    dict(type='PackBEVTInputs', modality='video'),
]
video_dataset = dict(type='RobustVideoDataset', ann_file={{_base_.video_dataset.ann_file}},
                     data_prefix={{_base_.video_dataset.data_prefix}}, pipeline=video_pipeline)
train_dataloader = dict(
    dataset=dict(type='ConcatDataset', datasets=[video_dataset, {{_base_.image_dataset}}]))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone.pos_embed': dict(decay_mult=0.0),
            'backbone.time_embed': dict(decay_mult=0.0),
            'backbone.cls_token': dict(decay_mult=0.0),
        }))

work_dir = 'work_dirs/toy/pretrain_timesformer'
