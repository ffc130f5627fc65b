# Fine-tune a BEVT-pretrained Swin-B on Diving48 (48 classes).
#
# Diving48 is, like SSv2, a dataset where the order of frames decides the
# class, so the SSv2 recipe applies (finetune_swin_b_ssv2.py): uniform 32-frame
# sampling, window 16x7x7, RandAugment, random erasing, label smoothing, EMA,
# no flip. Annotation lists in MMAction2's video format (`path label` per line,
# tools/data/diving48 of MMAction2 writes them).
_base_ = './finetune_swin_b_ssv2.py'

model = dict(cls_head=dict(num_classes=48))

data_root = 'data/diving48/videos'
ann_file_train = 'data/diving48/diving48_train_list_videos.txt'
ann_file_val = 'data/diving48/diving48_val_list_videos.txt'

train_dataloader = dict(dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
