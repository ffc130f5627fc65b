# BEVT image-stream pretraining (masked image modeling) of Video Swin-B on ImageNet-1K: the
# first stage of BEVT, whose weights initialize joint_swin_b.py.
#
#   bash tools/dist_train.sh configs/bevt/image_stream_swin_b.py 8
#
# The same model and image pipeline as the joint recipe (2D patch embedding, 2D shifted windows,
# block masks of 98 / 196, DALL-E targets on a 112x112 view); images only.
# Sources: no image-stream config is released. [P] the paper: 800 epochs on ImageNet-1K, the
# image stream following BEiT; [B] BEiT's image recipe, which the image stream reuses: 2048
# images per step (= 32 GPUs x 64), AdamW lr 1.5e-3, wd 0.05, 10 warm-up epochs, cosine;
# [R] the joint released config for everything else (betas, exemptions, fp16, clip 3.0) and
# the lr curve's form (mmcv 1.x: cosine per iteration over the whole run times a linear
# warm-up factor from 0.1).
# --auto-scale-lr (base 32 GPUs x 64 images = 2048): 8 GPUs -> lr 3.75e-4, 32 GPUs -> lr 1.5e-3.
# Then: python tools/convert/bevt_image_to_joint.py work_dirs/image_stream_swin_b/epoch_800.pth \
#           work_dirs/image_stream_swin_b/joint_init.pth
_base_ = './joint_swin_b.py'

load_from = None  # from scratch

train_dataloader = dict(
    _delete_=True,
    batch_size={{_base_.images_per_gpu}},
    num_workers=10,
    persistent_workers=True,
    timeout=600,  # s per batch: a decoder call hanging on one file stops the run (docs/reliability.md)
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset={{_base_.image_dataset}})

max_epochs = 800  # [P]
warmup_epochs = 10  # [B]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
optim_wrapper = dict(accumulative_counts=1, optimizer=dict(lr=1.5e-3))  # [B]
param_scheduler = [  # [R] form, [B] lengths: see the header
    dict(type='MMCVLinearWarmupLR', warmup_epochs=warmup_epochs, warmup_ratio=0.1,
         by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=True, begin=0,
         convert_to_iter_based=True),  # no `end`/`T_max`: ends with the run (max_epochs)
]
auto_scale_lr = dict(enable=False, base_batch_size=2048)  # 32 GPUs x 64 images
default_hooks = dict(checkpoint=dict(interval=20))

# Images only: the video decoder and the 3D patch embedding get no gradient, which DDP must know.
find_unused_parameters = True
