"""Real files -> recipe pipelines -> DualDatasetSampler -> BEVT (tiny) training steps."""
import torch
from mmengine.runner import Runner

from experiment_names import experiment_name

SMALL = dict(scale=(64, 80), crop=64, tok=32)  # 4x4 token grid, 32x32 tokenizer view


def _tiny_bevt(vocab=32):
    arch = dict(embed_dims=8, depths=[2, 2, 2, 2], num_heads=[1, 1, 2, 2])
    return dict(
        type='BEVT',
        backbone=dict(type='BEVTSwinTransformer3D', arch=arch, window_size=(2, 4, 4),
                      drop_path_rate=0., final_norm=False),
        head=dict(type='BEVTHead', in_channels=64, num_classes=vocab),
        target_generator=dict(type='VQVAETokenizer', ch=8, ch_mult=(1, 1, 2, 4),
                              num_res_blocks=1, z_channels=8, embed_dim=8, vocab_size=vocab,
                              num_groups=4, random_init=True),
        data_preprocessor=dict(type='BEVTDataPreprocessor'))


def test_joint_training_on_real_files(media, video_pipeline, image_pipeline, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    videos = dict(type='RobustVideoDataset', ann_file=media['video_list_bad'],
                  data_prefix=dict(video=media['root']),
                  pipeline=video_pipeline(clip_len=4, frame_interval=2, **SMALL))
    images = dict(type='ImageListDataset', ann_file=media['image_list_bad'],
                  data_prefix=dict(img=media['img_root']), pipeline=image_pipeline(**SMALL))
    try:
        runner = Runner(
            experiment_name=experiment_name('bevt_e2e'),
            model=_tiny_bevt(), work_dir=str(tmp_path),
            train_dataloader=dict(
                batch_size=2 + 4, num_workers=0,
                sampler=dict(type='DualDatasetSampler', videos_per_gpu=2, images_per_gpu=4),
                dataset=dict(type='ConcatDataset', datasets=[videos, images])),
            train_cfg=dict(by_epoch=False, max_iters=2),
            optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
            default_scope='mmaction', randomness=dict(seed=0),
            default_hooks=dict(logger=dict(type='LoggerHook', interval=1),
                               checkpoint=dict(type='CheckpointHook', interval=10,
                                               by_epoch=False)),
            log_level='WARNING')
        runner.train()
    finally:
        torch.set_num_threads(threads)
    losses = [v for k, v in runner.message_hub.log_scalars.items() if k.startswith('train/loss')]
    assert losses and all(torch.isfinite(torch.tensor(h.current())) for h in losses)
