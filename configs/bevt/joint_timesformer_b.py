# BEVT joint image + video pretraining of TimeSformer-B (divided space-time, 8x224, patch 16).
#
# The paper's second backbone. Everything of the Swin joint recipe (joint_swin_b.py: data,
# augmentations, tokenizer and its view, masks, sampler, optimizer, schedule) except what
# follows from the backbone. Sources: the Swin joint config's numbers are the authors'
# released config's [R] (joint_swin_b.py lists them); no TimeSformer config is released: the
# paper [P] applies BEVT to TimeSformer, and the backbone numbers below are MMAction2's
# TimeSformer-B K400 recipe [M] (8x32 clips, patch 16, divided space-time, drop path 0.1 is the
# stock backbone's, the input normalization and the no-decay keys).
# --auto-scale-lr (base 32 GPUs x 72 = 2304, as joint_swin_b.py): 8 GPUs -> lr 1.25e-4,
# 32 GPUs -> lr 5e-4.
# - model: BEVTTimeSformer (MMAction2's TimeSformer + the image stream: own 2D patch embedding,
#   no time embedding, no temporal attention step; all other weights shared) and
#   BEVTPlainHead (the final-norm patch tokens are already the 14x14 token grid, one per frame:
#   no decoder; the classifier and masked loss of BEVTHead);
# - video clips: 8 frames, interval 32, as MMAction2's TimeSformer K400 recipe; a temporal
#   patch of 1, so the tube mask has one temporal position per frame (temporal_patch=1);
# - inputs normalized as MMAction2's TimeSformer recipes ((x - 127.5) / 127.5);
# - no weight decay on pos_embed, time_embed, cls_token (as the TimeSformer recipe);
# - no initialization by default (load_from=None). To start from a ViT-B in MMAction2's
#   layout: model.backbone.pretrained=vit.pth (spatial attention copied to the temporal step,
#   patch_embed_2d from patch_embed); from a BEVTTimeSformer checkpoint: load_from=....
#
# Export the encoder for fine-tuning (configs/bevt/finetune_timesformer_b_k400.py):
#   python tools/convert/bevt_timesformer_to_mmaction.py \
#       work_dirs/joint_timesformer_b/epoch_150.pth work_dirs/bevt_timesformer_b_backbone.pth
_base_ = './joint_swin_b.py'

load_from = None

model = dict(
    backbone=dict(
        _delete_=True,
        type='BEVTTimeSformer',
        num_frames=8,
        img_size=224,
        patch_size=16,
        embed_dims=768,
        num_heads=12,
        num_transformer_layers=12,
        in_channels=3,
        dropout_ratio=0.,
        attention_type='divided_space_time',
        norm_cfg=dict(type='LN', eps=1e-6),
        drop_path_rate=0.1,  # the stock TimeSformer's 0..0.1
        mask_token=True,
        pretrained=None),
    head=dict(
        _delete_=True,
        type='BEVTPlainHead',
        in_channels=768,
        num_classes={{_base_.tokenizer_vocab_size}},
        loss=dict(type='CrossEntropyLoss'),  # at the masked positions only
        loss_weights=dict(image=1.0, video=1.0)),
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]))

num_frames = 8
frame_interval = 32
video_pipeline = [
    dict(type='VideoInit', backend={{_base_.video_backend}}),
    dict(type='CheckVideoLength', min_frames=num_frames),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=frame_interval, num_clips=1),
    dict(type='VideoDecode'),
    dict(type='RandomRescale', scale_range=(256, 320), interpolation='bicubic'),
    dict(type='RandomCrop', size={{_base_.crop_size}}),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TokenizerView', size={{_base_.tokenizer_view_size}}, interpolation='lanczos'),
    dict(type='TubeMaskGenerator', input_size={{_base_.token_grid}}, num_frames=num_frames,
         temporal_patch=1, masked_tube_range=(0.5, 1.0),
         num_masking_patches={{_base_.num_masking_patches}}, min_num_patches=16,
         min_aspect=0.3),
    dict(type='PackBEVTInputs', modality='video'),
]
video_dataset = dict(type='RobustVideoDataset', ann_file={{_base_.video_ann_file}},
                     data_prefix=dict(video={{_base_.video_root}}), pipeline=video_pipeline)
train_dataloader = dict(
    dataset=dict(type='ConcatDataset', datasets=[video_dataset, {{_base_.image_dataset}}]))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone.pos_embed': dict(decay_mult=0.0),
            'backbone.time_embed': dict(decay_mult=0.0),
            'backbone.cls_token': dict(decay_mult=0.0),
        }))
