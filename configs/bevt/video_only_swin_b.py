# BEVT-V ablation: masked video modeling alone on Kinetics-400 (no image stream), otherwise the
# joint recipe (joint_swin_b.py): same model, tube masks, schedule and optimizer, initialized from
# the image stream. Sources: the paper's BEVT-V ablation [P]; all recipe numbers are the joint
# released config's (joint_swin_b.py, which lists them).
# --auto-scale-lr (base 32 GPUs x 8 videos = 256): 8 GPUs -> lr 1.25e-4, 32 GPUs -> lr 5e-4.
#
#   bash tools/dist_train.sh configs/bevt/video_only_swin_b.py 8
_base_ = './joint_swin_b.py'

train_dataloader = dict(
    _delete_=True,
    batch_size={{_base_.videos_per_gpu}},
    num_workers=10,
    persistent_workers=True,
    timeout=600,  # s per batch: a decoder call hanging on one file stops the run (docs/reliability.md)
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset={{_base_.video_dataset}})

# --auto-scale-lr base in the unit of batch_size (videos): 32 GPUs x 8 videos.
auto_scale_lr = dict(enable=False, base_batch_size=256)

# Videos only: the image decoder and the 2D patch embedding get no gradient, which DDP must know.
find_unused_parameters = True
