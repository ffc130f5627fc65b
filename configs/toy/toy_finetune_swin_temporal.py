# Fine-tune the toy BEVT encoder on toy-temporal (4 classes that only the order of frames tells:
# right, left, right_fast, left_fast; like Something-Something). Same recipe as toy-spatial;
# no flip anywhere (a flip would swap left and right). Toy numbers (toy_finetune_swin_spatial.py's).
# --auto-scale-lr (base 1 CPU x 8 clips): 8 GPUs -> lr 2.4e-3, 32 GPUs -> lr 9.6e-3.
_base_ = './toy_finetune_swin_spatial.py'

data_root = 'data/toy/temporal'
train_dataloader = dict(dataset=dict(ann_file=f'{data_root}/train_list.txt',
                                     data_prefix=dict(video=data_root)))
val_dataloader = dict(dataset=dict(ann_file=f'{data_root}/val_list.txt',
                                   data_prefix=dict(video=data_root)))
test_dataloader = val_dataloader
