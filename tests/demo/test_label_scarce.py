"""Label-scarce fine-tuning helpers: the few-label list and the fine-tuning clip."""
import argparse
import os.path as osp

import pytest
from mmengine.config import Config, DictAction

from bevt_mm.analysis.label_scarce import FINETUNE_CLIP, few_per_class, finetune_config, set_clip

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FINETUNE_CFG = osp.join(REPO, 'configs', 'toy', 'toy_finetune_swin_{}.py')


def test_few_per_class_keeps_the_first_n_of_each_class_in_list_order(tmp_path):
    src = tmp_path / 'train.txt'
    src.write_text(''.join(f'v{i}.mp4 {i % 3}\n' for i in range(12)))
    out = few_per_class(str(src), str(tmp_path / 'few.txt'), 2)
    assert open(out).read().split('\n')[:-1] == [
        'v0.mp4 0', 'v1.mp4 1', 'v2.mp4 2', 'v3.mp4 0', 'v4.mp4 1', 'v5.mp4 2']
    with pytest.raises(ValueError, match='fewer than 5'):
        few_per_class(str(src), str(tmp_path / 'too_many.txt'), 5)


def _clips(cfg):
    out = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipe = {t['type']: t for t in cfg[key].dataset.pipeline}
        out.append((pipe['SampleFrames']['clip_len'], pipe['SampleFrames']['frame_interval'],
                    tuple(pipe['Resize']['scale'])))
    return out


@pytest.mark.parametrize('kind', ['spatial', 'temporal'])
def test_label_scarce_fine_tuning_runs_at_the_pretraining_clip(kind, tmp_path, load_tool):
    """Ablation (set_clip) and demo (clip_overrides) set the same clip: the toy pretraining's."""
    config = FINETUNE_CFG.format(kind)
    assert _clips(Config.fromfile(config)) == [(16, 1, (32, 32))] * 3  # the config's own
    pre = Config.fromfile(osp.join(REPO, 'configs', 'toy', 'toy_joint_swin.py'))
    video = {t['type']: t for t in pre.video_pipeline}
    assert FINETUNE_CLIP == (video['SampleFrames']['clip_len'],
                             video['SampleFrames']['frame_interval'],
                             (pre.crop_size, pre.crop_size))
    cfg = finetune_config(config, 'train.txt', 'val.txt', 'videos', str(tmp_path), None, 3)
    assert _clips(set_clip(cfg, *FINETUNE_CLIP)) == [(8, 2, (64, 64))] * 3

    demo = load_tool('demo/toy_demo.py')
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    opts = parser.parse_args(['--cfg-options', *demo.clip_overrides(config, *FINETUNE_CLIP)])
    via_demo = Config.fromfile(config)
    via_demo.merge_from_dict(opts.cfg_options)
    assert _clips(via_demo) == [(8, 2, (64, 64))] * 3


def test_set_clip_names_a_pipeline_it_cannot_change(tmp_path):
    cfg = finetune_config(FINETUNE_CFG.format('spatial'), 'train.txt', 'val.txt', 'videos',
                          str(tmp_path), None, 3)
    cfg.val_dataloader.dataset.pipeline = [t for t in cfg.val_dataloader.dataset.pipeline
                                           if t['type'] != 'Resize']
    with pytest.raises(ValueError, match='val_dataloader.dataset.pipeline needs SampleFrames'):
        set_clip(cfg, 8, 2, (64, 64))
