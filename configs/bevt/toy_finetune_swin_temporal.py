# Fine-tune the toy BEVT encoder on toy-temporal (4 classes that only the order of frames tells:
# right, left, right_fast, left_fast; like Something-Something). Same recipe as toy-spatial;
# no flip anywhere (a flip would swap left and right).
_base_ = './toy_finetune_swin_spatial.py'

data_root = 'data/toy/temporal'
train_dataloader = dict(dataset=dict(ann_file=f'{data_root}/train_list.txt',
                                     data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(ann_file=f'{data_root}/val_list.txt',
                                   data_prefix=dict(video=data_root)))
test_dataloader = val_dataloader
