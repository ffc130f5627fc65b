# Fine-tune a BEVT-pretrained Swin-B on Something-Something v2 (BEVT recipe).
#
# Same optimizer recipe as K400 (finetune_swin_b_k400.py), and what SSv2 changes:
# 32 frames by uniform (segment) sampling, window 16x7x7, drop path 0.4,
# RandAugment (n=4, m=7, the same op on every frame of a clip), random erasing
# 0.25, label smoothing 0.1, EMA of the weights, no flip (SSv2 has left/right
# classes), gradient accumulation 8; test 1 clip x 3 crops; 174 classes.
#
# The window differs from the pretraining 8x7x7, so the backbone is BEVT's
# (BEVTSwinTransformer3D without image stream and mask token: the parameters,
# keys and outputs of stock SwinTransformer3D) for its loading: an encoder
# exported with the export's default window (8x7x7) gets its relative position
# tables resized to 16x7x7 on load (trilinear, as the authors'
# pretrained_window_size and `bevt_to_mmaction_swin.py --window-size 16 7 7`),
# and the log says so; stock SwinTransformer3D would skip them as size mismatches.
_base_ = './finetune_swin_b_k400.py'

model = dict(
    backbone=dict(type='BEVTSwinTransformer3D', image_stream=False, mask_token=False,
                  window_size=(16, 7, 7), drop_path_rate=0.4),
    cls_head=dict(num_classes=174, label_smooth_eps=0.1))

dataset_type = 'VideoDataset'
data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'
num_frames = 32

train_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='UniformSample', clip_len=num_frames),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='TorchVisionWrapper', op='RandAugment', num_ops=4, magnitude=7),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='UniformSample', clip_len=num_frames, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
test_pipeline = [
    dict(type='DecordInit', io_backend='disk'),
    dict(type='UniformSample', clip_len=num_frames, num_clips=1, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]

train_dataloader = dict(
    dataset=dict(type=dataset_type, ann_file=ann_file_train, data_prefix=dict(video=data_root),
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, ann_file=ann_file_val, data_prefix=dict(video=data_root),
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    dataset=dict(type=dataset_type, ann_file=ann_file_val, data_prefix=dict(video=data_root),
                 pipeline=test_pipeline, test_mode=True))

optim_wrapper = dict(accumulative_counts=8)

custom_hooks = [dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=1e-4,
                     priority='ABOVE_NORMAL')]
