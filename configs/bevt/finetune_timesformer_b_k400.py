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
# The backbone is BEVTFinetuneTimeSformer: stock TimeSformer's parameters and output with BEVT's
# checked loading. Load the BEVT encoder with one option: the pretraining checkpoint itself
# (converted on load to what tools/convert/bevt_timesformer_to_mmaction.py exports) or its
# export, as `model.backbone.pretrained` or `load_from`; a file matching < 50 % of the backbone
# is refused:
#   bash tools/dist_train.sh configs/bevt/finetune_timesformer_b_k400.py 8 \
#       --cfg-options model.backbone.pretrained=work_dirs/bevt_timesformer_b/epoch_150.pth
# (stock TimeSformer treats a `pretrained=` file as a 2D ViT and copies each layer's temporal
# attention over the spatial one; BEVTFinetuneTimeSformer loads a divided space-time file as is.)
_base_ = 'mmaction::recognition/timesformer/timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb.py'

custom_imports = dict(imports=['bevt_mm'], allow_failed_imports=False)

num_classes = 400  # the head's and the datasets'
model = dict(backbone=dict(type='BEVTFinetuneTimeSformer',
                           pretrained=None),  # no ImageNet ViT: set the BEVT checkpoint
             cls_head=dict(num_classes=num_classes))

load_from = None

# Atomic checkpoint writes (bevt_mm.engine.atomic_backend): a killed job keeps its last checkpoint;
# the reliability hooks of configs/_base_/bevt_runtime.py as named default hooks.
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')),
                     non_finite_loss=dict(type='NonFiniteLossHook'),
                     rng_state=dict(type='RNGStateHook'),
                     accumulated_grads=dict(type='AccumulatedGradsHook'),
                     resume=dict(type='ResumeHook'),
                     num_classes_check=dict(type='NumClassesCheckHook'))

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
