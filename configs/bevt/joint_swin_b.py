# BEVT joint image + video pretraining of Video Swin-B on ImageNet-1K + Kinetics-400
# (the paper's main recipe).
#
#   bash tools/dist_train.sh configs/bevt/joint_swin_b.py 8
#
# Sources of the recipe numbers: [R] the authors' released config (xyzforever/BEVT
# configs/recognition/swin/swin_base_patch244_window877_bevt_in1k_k400.py), [P] the paper.
# - model: Swin-B (embed 128, depths 2-2-18-2, heads 4-8-16-32), window 8x7x7, patch 2x4x4,
#   drop path 0.3, qkv bias [R]; DALL-E tokenizer, 8192 tokens [R][P]
# - per GPU and iteration: 8 videos (16 frames, interval 8) + 64 images, 224x224, with their
#   112x112 tokenizer views (lanczos) [R]; 32 GPUs [P]; image set repeated 5x per epoch [R]
# - masks on 14x14: 98 masked, min block 16, aspect 0.3; tube length 0.5-1.0 of 8 [R]
# - AdamW lr 5e-4, betas (0.9, 0.999), wd 0.05; no decay on norms, relative position tables,
#   absolute position embeddings [R]; gradient accumulation 2, grad-norm clip 3.0, fp16 [R]
# - 150 epochs; cosine to 0 per iteration over the whole run, times mmcv's linear warm-up
#   from 0.1 (warmup_ratio default) over 10 epochs [R] (mmcv 1.x semantics: MMCVLinearWarmupLR)
#
# Other GPU counts: keep the per-GPU batch and pass --auto-scale-lr: mmengine scales the lr by
# (GPUs x train_dataloader.batch_size) / auto_scale_lr.base_batch_size; batch_size counts the
# 72 samples of a GPU batch (8 videos + 64 images), so the base is 32 GPUs x 72 = 2304:
# --auto-scale-lr: 8 GPUs -> lr 1.25e-4, 32 GPUs -> lr 5e-4.
# Or raise accumulative_counts to keep the global batch (8 GPUs x accumulation 8 = the
# paper's 256 + 2048 per step).
#
# Initialization: the image-stream run (image_stream_swin_b.py) converted by
#   python tools/convert/bevt_image_to_joint.py work_dirs/image_stream_swin_b/epoch_800.pth \
#       work_dirs/image_stream_swin_b/joint_init.pth
# Tokenizer switch: replace the tokenizer line of _base_ (dalle.py, peco.py, vqkd.py).
_base_ = [
    '../_base_/bevt_runtime.py',
    '../_base_/models/bevt_swin_b.py',
    '../_base_/tokenizers/dalle.py',
]

load_from = 'work_dirs/image_stream_swin_b/joint_init.pth'

model = dict(target_generator={{_base_.tokenizer}},
             head=dict(num_classes={{_base_.tokenizer_vocab_size}}))

# ---------------------------------------------------------------- data
videos_per_gpu = 8
images_per_gpu = 64
image_repeat = 5  # the image set is repeated 5x per epoch
num_frames = 16
frame_interval = 8
crop_size = 224
token_grid = crop_size // 16  # 14: one target token per 16x16 pixels
num_masking_patches = 98  # of 14 x 14 = 196
tokenizer_view_size = {{_base_.tokenizer_view_size}}

video_root = 'data/kinetics400/videos_train'
video_ann_file = 'data/kinetics400/kinetics400_train_list_videos.txt'
image_root = 'data/imagenet/train'
image_ann_file = 'data/imagenet/meta/train.txt'  # `relative/path.JPEG label`; '' scans the folder
# Video decoder (docs/decoding.md): 'auto' = torchcodec (exact frames, also for edit-list mp4s)
# when it and the FFmpeg libraries load, else decord (warns once); or 'torchcodec' / 'decord'.
video_backend = 'auto'

video_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='CheckVideoLength', min_frames=num_frames // 2),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=frame_interval, num_clips=1),
    dict(type='VideoDecode'),
    dict(type='RandomRescale', scale_range=(256, 320), interpolation='bicubic'),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TokenizerView', size=tokenizer_view_size, interpolation='lanczos'),
    dict(type='TubeMaskGenerator', input_size=token_grid, num_frames=num_frames,
         temporal_patch=2, masked_tube_range=(0.5, 1.0),
         num_masking_patches=num_masking_patches, min_num_patches=16, min_aspect=0.3),
    dict(type='PackBEVTInputs', modality='video'),
]
image_pipeline = [
    dict(type='LoadImageAsClip'),
    dict(type='RandomRescale', scale_range=(256, 320), interpolation='bicubic'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='TokenizerView', size=tokenizer_view_size, interpolation='lanczos'),
    dict(type='BlockMaskGenerator', input_size=token_grid,
         num_masking_patches=num_masking_patches, min_num_patches=16, min_aspect=0.3),
    dict(type='PackBEVTInputs', modality='image'),
]
video_dataset = dict(type='RobustVideoDataset', ann_file=video_ann_file,
                     data_prefix=dict(video=video_root), pipeline=video_pipeline)
image_dataset = dict(type='ImageListDataset', ann_file=image_ann_file,
                     data_prefix=dict(img=image_root), pipeline=image_pipeline)

train_dataloader = dict(
    batch_size=videos_per_gpu + images_per_gpu,  # one batch = the videos, then the images
    num_workers=10,
    persistent_workers=True,
    timeout=600,  # s per batch: a decoder call hanging on one file stops the run (docs/reliability.md)
    pin_memory=True,
    sampler=dict(type='DualDatasetSampler', videos_per_gpu=videos_per_gpu,
                 images_per_gpu=images_per_gpu, image_repeat=image_repeat,
                 epoch_length='video'),  # an epoch is one pass over Kinetics-400
    dataset=dict(type='ConcatDataset', datasets=[video_dataset, image_dataset]))

# ---------------------------------------------------------------- schedule
max_epochs = 150
warmup_epochs = 10
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None

optim_wrapper = dict(
    type='AmpOptimWrapper',
    constructor='FrozenAwareOptimWrapperConstructor',  # one log line for the frozen tokenizer
    loss_scale='dynamic',
    accumulative_counts=2,
    clip_grad=dict(max_norm=3.0, norm_type=2),
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.0),
            'absolute_pos_embed': dict(decay_mult=0.0),
        }))

param_scheduler = [
    # [R] mmcv 1.x linear warm-up (warmup_ratio 0.1, 10 epochs) as a factor on the cosine
    dict(type='MMCVLinearWarmupLR', warmup_epochs=warmup_epochs, warmup_ratio=0.1,
         by_epoch=True, convert_to_iter_based=True),
    # [R] cosine to 0 per iteration (by_epoch=False), spanning the whole run from iteration 0
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=True, begin=0,
         convert_to_iter_based=True),  # no `end`/`T_max`: ends with the run (max_epochs)
]

# --auto-scale-lr base: 32 GPUs x 72 samples (8 videos + 64 images), the unit of batch_size.
auto_scale_lr = dict(enable=False, base_batch_size=32 * (videos_per_gpu + images_per_gpu))

default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
