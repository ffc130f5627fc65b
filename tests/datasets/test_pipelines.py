"""Recipe pipelines on real files produce the data contract (docs/architecture.md)."""
import numpy as np
import pytest
import torch
from mmengine.dataset import ConcatDataset, pseudo_collate
from PIL import Image

from mmaction.registry import DATASETS, TRANSFORMS
from mmaction.structures import ActionDataSample




def test_video_recipe_contract(media, video_pipeline):
    ds = DATASETS.build(dict(type='RobustVideoDataset', ann_file=media['video_list'],
                             data_prefix=dict(video=media['root']), pipeline=video_pipeline()))
    np.random.seed(0)
    out = ds[0]
    inputs, sample = out['inputs'], out['data_samples']
    assert isinstance(sample, ActionDataSample)
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 16, 224, 224)
    assert sample.metainfo['modality'] == 'video'
    assert sample.mask.dtype == torch.bool and sample.mask.shape == (8, 14, 14)
    assert sample.target_mask.dtype == torch.bool and sample.target_mask.shape == (16, 14, 14)
    assert torch.equal(sample.target_mask, sample.mask.repeat_interleave(2, dim=0))
    tok = sample.tokenizer_inputs
    assert tok.dtype == torch.uint8 and tok.shape == (3, 16, 112, 112)
    # the tokenizer view is the same crop, resized with PIL's lanczos
    frame = inputs[:, 3].permute(1, 2, 0).numpy()
    ref = np.asarray(Image.fromarray(frame).resize((112, 112), Image.LANCZOS))
    assert np.abs(ref.astype(int) - tok[:, 3].permute(1, 2, 0).numpy()).max() <= 1
    assert ds.num_failed == 0


def test_image_recipe_contract_list_and_folder(media, image_pipeline):
    for cfg in (dict(ann_file=media['image_list']), dict(ann_file='')):
        ds = DATASETS.build(dict(type='ImageListDataset', data_prefix=dict(img=media['img_root']),
                                 pipeline=image_pipeline(), **cfg))
        assert len(ds) == (6 if cfg['ann_file'] else 7)  # the folder also finds corrupt.jpg
        np.random.seed(0)
        out = ds[1]
        inputs, sample = out['inputs'], out['data_samples']
        assert inputs.dtype == torch.uint8 and inputs.shape == (3, 224, 224)
        assert sample.metainfo['modality'] == 'image'
        assert sample.mask.shape == (14, 14) and sample.mask.sum() == 98
        assert torch.equal(sample.target_mask, sample.mask)
        assert sample.tokenizer_inputs.shape == (3, 112, 112)
        assert sample.tokenizer_inputs.dtype == torch.uint8


def test_folder_mode_labels(media):
    ds = DATASETS.build(dict(type='ImageListDataset', ann_file='',
                             data_prefix=dict(img=media['img_root']), pipeline=[]))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    # corrupt.jpg sits at the root: label -1; class folders get 0 / 1
    labels = {i['img_path'].split('/')[-2] + '/' + i['img_path'].split('/')[-1]: i['gt_label']
              for i in infos}
    assert labels['class_0/img_0.jpg'] == 0 and labels['class_1/img_2.jpg'] == 1
    assert sum(i['img_path'].endswith('corrupt.jpg') for i in infos) == 1


def test_concat_dataset_and_collate(media, video_pipeline, image_pipeline):
    video = dict(type='RobustVideoDataset', ann_file=media['video_list'],
                 data_prefix=dict(video=media['root']),
                 pipeline=video_pipeline(clip_len=4, frame_interval=2, scale=(64, 80), crop=64,
                                         tok=32))
    image = dict(type='ImageListDataset', ann_file=media['image_list'],
                 data_prefix=dict(img=media['img_root']),
                 pipeline=image_pipeline(scale=(64, 80), crop=64, tok=32))
    ds = ConcatDataset([DATASETS.build(video), DATASETS.build(image)])
    assert len(ds) == 3 + 6
    batch = pseudo_collate([ds[0], ds[3]])
    assert [s.metainfo['modality'] for s in batch['data_samples']] == ['video', 'image']
    assert batch['inputs'][0].shape == (3, 4, 64, 64) and batch['inputs'][1].shape == (3, 64, 64)
    assert batch['data_samples'][0].mask.shape == (2, 4, 4)


def test_tokenizer_view_cv2_and_identity():
    imgs = [np.random.randint(0, 255, (224, 224, 3), np.uint8) for _ in range(2)]
    out = TRANSFORMS.build(dict(type='TokenizerView', backend='cv2'))({'imgs': imgs})
    assert [x.shape for x in out['tokenizer_imgs']] == [(112, 112, 3)] * 2
    same = TRANSFORMS.build(dict(type='TokenizerView', size=224))({'imgs': imgs})
    assert np.array_equal(same['tokenizer_imgs'][0], imgs[0])


def test_pack_infers_modality_and_rejects_mismatch():
    pack = TRANSFORMS.build(dict(type='PackBEVTInputs'))
    img = np.zeros((32, 32, 3), np.uint8)
    out = pack({'imgs': [img], 'mask': np.zeros((2, 2), bool)})
    assert out['data_samples'].metainfo['modality'] == 'image'
    out = pack({'imgs': [img] * 4, 'mask': np.zeros((2, 2, 2), bool),
                'target_mask': np.zeros((4, 2, 2), bool)})
    assert out['data_samples'].metainfo['modality'] == 'video'
    with pytest.raises(ValueError):
        TRANSFORMS.build(dict(type='PackBEVTInputs', modality='video'))(
            {'imgs': [img], 'mask': np.zeros((2, 2), bool)})
