# Fine-tune a BEVT-pretrained Swin-B on Diving48 (48 classes).
#
# Sources: the authors released no Diving48 config, and the paper states no Diving48-specific
# hyper-parameters that we could find; Diving48 is, like SSv2, a dataset where the order of
# frames decides the class, so every recipe number is the released SSv2 config's [R]
# (finetune_swin_b_ssv2.py lists them): uniform 32-frame sampling, window 16x7x7, drop path
# 0.4, RandAugment, random erasing, label smoothing 0.1, no flip; AdamW 5e-4 / wd 0.05 /
# backbone lr x0.1, no clipping, accumulation 8, fp16, EMA 0.0002; 60 epochs, cosine per
# epoch with 2.5 warm-up epochs. Only the 48 classes and the data are Diving48's.
# --auto-scale-lr (base 8 GPUs x 8 clips = 64): 8 GPUs -> lr 5e-4, 32 GPUs -> lr 2e-3.
# Annotation lists in MMAction2's video format (`path label` per line,
# tools/data/diving48 of MMAction2 writes them).
_base_ = './finetune_swin_b_ssv2.py'

num_classes = 48  # the head's and the datasets'
model = dict(cls_head=dict(num_classes=num_classes))

data_root = 'data/diving48/videos'
ann_file_train = 'data/diving48/diving48_train_list_videos.txt'
ann_file_val = 'data/diving48/diving48_val_list_videos.txt'

train_dataloader = dict(dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root),
                                     num_classes=num_classes))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root),
                                   num_classes=num_classes))
test_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root),
                                    num_classes=num_classes))
