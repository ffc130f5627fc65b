# Fine-tune the toy BEVT encoder on toy-spatial (4 shapes; one frame tells the class, like
# Kinetics). A stock MMAction2 Swin recognizer (mmaction's Swin base config) at toy size, with the
# BEVT fine-tuning recipe's optimizer (AdamW, layer-wise lr decay 0.9, warm-up + cosine).
# Clips: all 16 frames (16x1, so every frame of a toy-temporal video is seen, and a shuffled clip
# has exactly the same frames as the normal one) resized 64 -> 32 px (4x cheaper than 64 px:
# 8x8x8 tokens; the 4x4x4 window shrinks to the map in stages 3-4, where stock Swin looks up the
# relative bias as toy_joint_swin.py pretrained it); no data-loading workers.
# Toy numbers, no source: sizes, lr 3e-4, wd 0.05, 10 epochs, mmpretrain's per-block layer decay
# (layer_decay_rule='per_block') and the schedule (linear warm-up from 0.1 over 1 epoch, then a
# cosine to the end of the run) are ours; docs/demo.md gives the demo's results with them.
# --auto-scale-lr (base 1 CPU x 8 clips): 8 GPUs -> lr 2.4e-3, 32 GPUs -> lr 9.6e-3.
#
#   python tools/train.py configs/toy/toy_finetune_swin_spatial.py \
#       --cfg-options model.backbone.pretrained=work_dirs/toy/pretrain/bevt_backbone.pth
_base_ = ['mmaction::_base_/models/swin_tiny.py', '../_base_/bevt_runtime.py']

num_classes = 4  # the head's and the datasets'

model = dict(
    backbone=dict(
        type='BEVTFinetuneSwinTransformer3D',  # stock SwinTransformer3D + BEVT's checked loading
        arch=dict(_delete_=True, embed_dims=32, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8]),
        window_size=(4, 4, 4),
        pretrained=None,  # the exported BEVT encoder (tools/convert/bevt_to_mmaction_swin.py)
        pretrained2d=False,
        drop_path_rate=0.1),
    cls_head=dict(in_channels=256, num_classes=num_classes, dropout_ratio=0.3))

data_root = 'data/toy/spatial'
clip_len = 16
frame_interval = 1
img_size = 32
train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval, num_clips=1,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='RobustVideoDataset', ann_file=f'{data_root}/train_list.txt',
                 data_prefix=dict(video=data_root), pipeline=train_pipeline,
                 num_classes=num_classes))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='RobustVideoDataset', ann_file=f'{data_root}/val_list.txt',
                 data_prefix=dict(video=data_root), pipeline=test_pipeline, test_mode=True,
                 num_classes=num_classes))
test_dataloader = val_dataloader
val_evaluator = dict(type='RobustEvaluator', metrics=dict(type='AccMetric'))
test_evaluator = val_evaluator

max_epochs = 10
# validates at the last epoch whatever train_cfg.max_epochs is (mmengine's loop always
# validates at its last epoch; val_interval=max_epochs only keeps the others out)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
                 val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    constructor='SwinLayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.9, layer_decay_rule='per_block', norm_decay_mult=0.0,
                       custom_keys={'relative_position_bias_table': dict(decay_mult=0.0)}),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    # no `end`/`T_max`: the cosine ends with the run (train_cfg.max_epochs sets the length)
    dict(type='RunCosineAnnealingLR', eta_min=0, by_epoch=True, begin=1,
         convert_to_iter_based=True),
]
# --auto-scale-lr base: the toy's one process x 8 clips (the unit of batch_size).
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs),
                     num_classes_check=dict(type='NumClassesCheckHook'))
randomness = dict(seed=0)
