# Fine-tune a BEVT-pretrained Swin-B on Kinetics-400 (BEVT recipe).
#
# Starts from MMAction2's Swin-B K400 recipe and changes what BEVT changes. Sources of the
# recipe numbers: [R] the authors' released config (xyzforever/BEVT configs/recognition/swin/
# swin_base_patch244_window877_bevt_finetune_k400.py), [M] MMAction2's Swin-B K400 recipe.
# - 32x2 clips (32 frames, interval 2), 224 crops, flip 0.5 [R]; test 4 clips x 3 crops [R]
# - window 8x7x7, drop path 0.3, 400 classes [R]
# - AdamW lr 3e-4, betas (0.9, 0.999), wd 0.001 [R]; custom_keys absolute_pos_embed /
#   relative_position_bias_table / norm with decay_mult 0 [R]; layer-wise lr decay 0.9 as the
#   released table (head x1, final norm x0.9, last block x0.9 ... patch_embed x0.9^28, each patch
#   merging its own unit) [R], matched as mmcv 1.x did (longest key wins), so the released
#   effective multipliers hold: relative tables lr x1 and no decay, norms inside blocks their
#   block's lr and keep decay (SwinLayerDecayOptimWrapperConstructor; layer_decay_rule='per_block'
#   is mmpretrain's rule instead)
# - gradient accumulation 4, grad-norm clip 40, fp16 [R]
# - 60 epochs; cosine to 0 stepped per epoch from epoch 0, times mmcv's linear warm-up factor
#   from 0.1 (warmup_ratio default) over 2.5 epochs, per iteration [R]
# - 8 clips per GPU [R]; 8 GPUs [M] (the released config does not state its GPU count):
# --auto-scale-lr (base 8 GPUs x 8 clips = 64): 8 GPUs -> lr 3e-4, 32 GPUs -> lr 1.2e-3.
#
# The backbone is BEVTFinetuneSwinTransformer3D: stock SwinTransformer3D's parameters and output
# with BEVT's checked loading. Load the BEVT encoder with one option (the backbone exported by
# tools/convert/bevt_to_mmaction_swin.py, or the pretraining checkpoint itself, e.g.
# epoch_150.pth, converted on load to the same tensors; a file matching < 50 % of the backbone
# is refused):
#   bash tools/dist_train.sh configs/bevt/finetune_swin_b_k400.py 8 \
#       --cfg-options model.backbone.pretrained=work_dirs/bevt_swin_b_backbone.pth
_base_ = 'mmaction::recognition/swin/swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py'

custom_imports = dict(imports=['bevt_mm'], allow_failed_imports=False)

num_classes = 400  # the head's and the datasets'

model = dict(
    backbone=dict(
        type='BEVTFinetuneSwinTransformer3D',
        pretrained=None,  # set to the exported BEVT backbone checkpoint
        pretrained2d=False,  # the BEVT checkpoint is already 3D
        window_size=(8, 7, 7),
        drop_path_rate=0.3),
    cls_head=dict(in_channels=1024, num_classes=num_classes))

max_epochs = 60
warmup_epochs = 2.5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=3)

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    accumulative_counts=4,
    clip_grad=dict(max_norm=40, norm_type=2),
    constructor='SwinLayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.001),
    paramwise_cfg=dict(
        layer_decay_rate=0.9,
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
        }))

param_scheduler = [
    dict(type='MMCVLinearWarmupLR', warmup_epochs=warmup_epochs, warmup_ratio=0.1,
         hold_to_epoch_end=True, by_epoch=True, convert_to_iter_based=True),
    # no `end`/`T_max`: the Runner ends the cosine with the run (train_cfg.max_epochs)
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=True, begin=0),
]

# Atomic checkpoint writes (bevt_mm.engine.atomic_backend) and the reliability hooks of
# configs/_base_/bevt_runtime.py, as named default hooks (custom_hooks=[] keeps them). An epoch
# is rarely a multiple of the 4 accumulated iterations: epoch checkpoints keep the gradients not
# yet applied, so --resume continues exactly; RNG states and the sampler's seed, the work dir's
# own checkpoint and epoch schedules on resume; the datasets' num_classes checked against the
# head (docs/reliability.md).
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')),
                     non_finite_loss=dict(type='NonFiniteLossHook'),
                     rng_state=dict(type='RNGStateHook'),
                     accumulated_grads=dict(type='AccumulatedGradsHook'),
                     resume=dict(type='ResumeHook'),
                     num_classes_check=dict(type='NumClassesCheckHook'))

# --auto-scale-lr base: 8 GPUs x 8 clips (the unit of batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=64)

# Video decoder (docs/decoding.md): 'auto' = torchcodec (exact frames, also for edit-list mp4s)
# when it and the FFmpeg libraries load, else decord (warns once); or 'torchcodec' / 'decord'.
video_backend = 'auto'
# MMAction2's Swin-B K400 pipelines, decoded by VideoInit/VideoDecode.
train_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=1),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=1, test_mode=True),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='SampleFrames', clip_len=32, frame_interval=2, num_clips=4, test_mode=True),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

# s per batch: a decoder call hanging on one file stops the run instead of hanging it
# (docs/reliability.md); MMAction2's base loads with 8 worker processes.
# RobustVideoDataset instead of the base's VideoDataset: an unreadable video (missing, truncated,
# a codec decord lacks) is replaced and counted in training; in val/test it is left out of the
# metric by RobustEvaluator, which logs "N of M samples unreadable" with their paths.
# num_classes (the head's) makes a list with an out-of-range label (1-based) fail when the dataset
# is built, naming the line, under any runner; NumClassesCheckHook checks the lists against a
# head changed alone (tools/train.py and tools/test.py make the datasets follow the head).
train_dataloader = dict(
    timeout=600,
    dataset=dict(type='RobustVideoDataset', pipeline=train_pipeline, num_classes=num_classes))
val_dataloader = dict(
    timeout=600,
    dataset=dict(type='RobustVideoDataset', pipeline=val_pipeline, num_classes=num_classes))
test_dataloader = dict(
    timeout=600,
    dataset=dict(type='RobustVideoDataset', pipeline=test_pipeline, num_classes=num_classes))
val_evaluator = dict(type='RobustEvaluator', metrics=dict(type='AccMetric'))
test_evaluator = val_evaluator
