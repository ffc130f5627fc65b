# Fine-tune a BEVT-pretrained TimeSformer-B on Kinetics-400.
#
# MMAction2's divided space-time TimeSformer K400 recipe (8x32x1 clips, 224, SGD lr 0.005,
# 15 epochs, clip 40, (x - 127.5) / 127.5) unchanged, with the stock `TimeSformer` backbone;
# only the initialization differs: the BEVT encoder instead of the ImageNet-21k ViT.
# Sources: every recipe number is MMAction2's stock recipe [M] (the authors released no
# TimeSformer fine-tuning config): SGD lr 0.005 (momentum 0.9, nesterov, wd 1e-4), MultiStepLR
# x0.1 at epochs 5 and 10, 15 epochs, grad-norm clip 40, 8 clips per GPU on 8 GPUs:
# --auto-scale-lr (base 8 GPUs x 8 clips = 64): 8 GPUs -> lr 0.005, 32 GPUs -> lr 0.02.
#
# Load the encoder exported by tools/convert/bevt_timesformer_to_mmaction.py (keys
# `backbone.*`; `load_from` also takes the pretraining checkpoint and converts it on load to the
# same tensors) with `load_from`, not with `model.backbone.pretrained` (refused for 3D files):
#   python tools/convert/bevt_timesformer_to_mmaction.py BEVT.pth \
#       work_dirs/bevt_timesformer_b_backbone.pth
#   bash tools/dist_train.sh configs/bevt/finetune_timesformer_b_k400.py 8 \
#       --cfg-options load_from=work_dirs/bevt_timesformer_b_backbone.pth
# Why: the stock TimeSformer treats a `pretrained=` file as a 2D ViT and copies each layer's
# `attentions.0` (temporal) weights over `attentions.1` (spatial), which would discard the
# pretrained spatial attention. `load_from` loads every backbone key as is (cls_head stays
# freshly initialized; mmengine lists its keys as missing).
_base_ = 'mmaction::recognition/timesformer/timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb.py'

custom_imports = dict(imports=['bevt_mm'], allow_failed_imports=False)

model = dict(backbone=dict(pretrained=None))  # no ImageNet ViT download: load_from instead

load_from = None  # set to the exported BEVT backbone checkpoint

# Atomic checkpoint writes (bevt_mm.engine.atomic_backend): a killed job keeps its last checkpoint;
# the reliability hooks of configs/_base_/bevt_runtime.py as named default hooks.
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')),
                     non_finite_loss=dict(type='NonFiniteLossHook'),
                     rng_state=dict(type='RNGStateHook'),
                     accumulated_grads=dict(type='AccumulatedGradsHook'))

# Video decoder (docs/decoding.md): 'auto' = torchcodec (exact frames, also for edit-list mp4s)
# when it and the FFmpeg libraries load, else decord (warns once); or 'torchcodec' / 'decord'.
video_backend = 'auto'
# MMAction2's TimeSformer K400 pipelines, decoded by VideoInit/VideoDecode.
train_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='SampleFrames', clip_len=8, frame_interval=32, num_clips=1),
    dict(type='VideoDecode'),
    dict(type='RandomRescale', scale_range=(256, 320)),
    dict(type='RandomCrop', size=224),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='SampleFrames', clip_len=8, frame_interval=32, num_clips=1, test_mode=True),
    dict(type='VideoDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='VideoInit', backend=video_backend),
    dict(type='SampleFrames', clip_len=8, frame_interval=32, num_clips=1, test_mode=True),
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
# tools/train.py / test.py set the datasets' num_classes from model.cls_head.num_classes, so a
# list with an out-of-range label (1-based) fails when the dataset is built, naming the line.
train_dataloader = dict(
    timeout=600, dataset=dict(type='RobustVideoDataset', pipeline=train_pipeline))
val_dataloader = dict(
    timeout=600, dataset=dict(type='RobustVideoDataset', pipeline=val_pipeline))
test_dataloader = dict(
    timeout=600, dataset=dict(type='RobustVideoDataset', pipeline=test_pipeline))
val_evaluator = dict(type='RobustEvaluator', metrics=dict(type='AccMetric'))
test_evaluator = val_evaluator
