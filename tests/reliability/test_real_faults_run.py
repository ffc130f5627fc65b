"""A toy joint pretraining whose lists hold real broken files finishes.

The video list holds the 4 good toy clips plus a truncated faststart mp4 (an
interrupted download) and an audio-only mp4; the image list holds the 4 good
JPEGs plus a 16-bit grayscale PNG (a real 0..65535 ramp). A Runner of the
shrunk toy config (what ``tools/train.py`` builds; here in this process, no
second interpreter to start) runs 3 iterations of 2 videos + 2 images (every
list entry is drawn at least once: the sampler's passes cover each list in 3
iterations). The run finishes, its log (the run's log file and everything
written to stdout/stderr) names each
broken video once with the running counts, and the 16-bit
image loads (it is not a failure).
"""
import glob
import os.path as osp
import re
import shutil

from mmengine.runner import Runner

import toy_run
from real_faults import write_16bit_ramp, write_audio_only_mp4, write_truncated_mp4

from experiment_names import experiment_name


def test_toy_run_with_truncated_audio_only_and_16bit_files(tmp_path, rel_media, rel_tokenizer,
                                                          capfd):
    media = dict(rel_media)
    video_root = str(tmp_path / 'videos')
    image_root = str(tmp_path / 'images')
    shutil.copytree(rel_media['video_root'], video_root)
    shutil.copytree(rel_media['image_root'], image_root)
    truncated = osp.join(video_root, 'truncated.mp4')
    audio_only = osp.join(video_root, 'audio_only.mp4')
    write_truncated_mp4(truncated)
    write_audio_only_mp4(audio_only)
    write_16bit_ramp(osp.join(image_root, 'gray16.png'), 'I;16', height=80, width=80)
    video_list, image_list = str(tmp_path / 'videos.txt'), str(tmp_path / 'images.txt')
    with open(video_list, 'w') as f:
        f.write(open(rel_media['video_list']).read() + 'truncated.mp4 0\naudio_only.mp4 0\n')
    with open(image_list, 'w') as f:
        f.write(open(rel_media['image_list']).read() + 'gray16.png 0\n')
    media.update(video_list=video_list, video_root=video_root, image_list=image_list,
                 image_root=image_root)
    work_dir, config = str(tmp_path / 'work'), str(tmp_path / 'toy.py')
    cfg = toy_run.toy_config(media, rel_tokenizer, work_dir, config, max_iters=3,
                             ckpt_interval=3)
    for hook in cfg.custom_hooks:  # the labeled probe set is its own (clean) list, as in
        if hook.type == 'ProbeHook':  # toy_joint_swin.py; a bad probe file: test_probe.py
            hook.sets.toy.update(data_prefix=rel_media['video_root'],
                                 train=rel_media['video_list'], val=rel_media['video_list'])
    cfg.experiment_name = experiment_name('real_faults')
    Runner.from_cfg(cfg).train()
    (log_file, ) = glob.glob(osp.join(work_dir, '*', '*.log'))
    captured = capfd.readouterr()
    log = open(log_file).read() + captured.out + captured.err
    assert sorted(toy_run.losses_by_iter(work_dir)) == [1, 2, 3]  # training finished
    for path in (truncated, audio_only):
        named = [line for line in open(log_file) if f'unreadable sample {path} ' in line]
        assert len(named) == 1, (path, named)  # named once ...
        assert 'DECORDError' in named[0] and video_list in named[0]
        # ... with counts: failures so far over all workers, distinct files in this process
        assert re.search(r'\(\d+ failed so far, [12] distinct files', named[0])
    assert 'gray16.png' not in log  # the 16-bit image is loaded, not skipped
    assert 'samples in a row failed' not in log
