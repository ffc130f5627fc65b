# Fine-tune a BEVT-pretrained Swin-B on Kinetics-400 (BEVT recipe).
#
# Starts from MMAction2's Swin-B K400 recipe and changes what BEVT changes:
# 60 epochs, AdamW lr 3e-4 wd 0.001 with layer-wise lr decay 0.9, 2.5 warm-up
# epochs then cosine, gradient accumulation 4, grad-norm clip 40; 32x2 clips,
# window 8x7x7, test 4 clips x 3 crops.
#
# Load the BEVT encoder with one option (a backbone checkpoint exported by
# tools/convert/bevt_to_mmaction_swin.py):
#   bash tools/dist_train.sh configs/bevt/finetune_swin_b_k400.py 8 \
#       --cfg-options model.backbone.pretrained=work_dirs/bevt_swin_b_backbone.pth
_base_ = 'mmaction::recognition/swin/swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py'

custom_imports = dict(imports=['bevt_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        pretrained=None,  # set to the exported BEVT backbone checkpoint
        pretrained2d=False,  # the BEVT checkpoint is already 3D
        window_size=(8, 7, 7),
        drop_path_rate=0.3),
    cls_head=dict(in_channels=1024, num_classes=400))

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
        norm_decay_mult=0.0,
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.0),
            'absolute_pos_embed': dict(decay_mult=0.0),
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]

# Atomic checkpoint writes (bevt_mm.engine.atomic_backend): a killed job keeps its last checkpoint.
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')))

# 8 GPUs x 8 clips; mmengine scales the lr linearly for other totals with --auto-scale-lr.
auto_scale_lr = dict(enable=False, base_batch_size=64)
