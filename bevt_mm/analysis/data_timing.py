"""Data pipeline throughput of a BEVT pretraining config, one worker.

:func:`data_pipelines` builds the config's datasets (on generated toy
media where the config's files are absent), :func:`time_pipeline` times a
pipeline per sample and per transform, :func:`time_masks` the mask
generators alone; :func:`data_report` combines them. How to run it:
``tools/analysis/benchmark_data.py``.
"""
import copy
import os.path as osp
import statistics
import tempfile
import time
from typing import Any, Dict, List

from mmengine.config import Config

from bevt_mm.analysis.step_setup import adapt_transform, mask_cfgs, train_datasets


def data_pipelines(cfg: Config, frames: int, size: int, view: int, workdir: str,
                   num_items: int = 4) -> Dict[str, Any]:
    """Build the config's video and image datasets on real files.

    When the config's files do not exist, small toy mp4 clips (256x256,
    ``frames x frame_interval`` frames) and JPEGs (320x320) are generated
    with :mod:`bevt_mm.testing.toy_data` into ``workdir``.

    Args:
        cfg (Config): A BEVT pretraining config.
        frames (int): Clip length the pipelines are set to.
        size (int): Crop size in pixels.
        view (int): Tokenizer view size in pixels.
        workdir (str): Folder for generated media.
        num_items (int): Generated clips / images per dataset. Defaults to 4.

    Returns:
        dict: ``video`` / ``image``: the built datasets (those the config
        has), ``notes``: what was generated instead of the config's files.
    """
    from mmaction.registry import DATASETS
    out: Dict[str, Any] = dict(notes=[])
    for ds in train_datasets(cfg):
        ds = copy.deepcopy(ds)
        video = 'video' in ds.get('data_prefix', {})
        name = 'video' if video else 'image'
        interval = 1
        for t in ds['pipeline']:
            if t['type'] == 'SampleFrames':
                interval = t.get('frame_interval', 1)
        ann = ds.get('ann_file', '')
        root = ds['data_prefix'].get('video' if video else 'img', '')
        if not (ann and osp.isfile(ann) and osp.isdir(root)):
            from bevt_mm.testing.toy_data import make_image_set, make_video_set
            if video:
                lists = make_video_set(workdir, 'spatial', num_items, 0, size=256,
                                       num_frames=max(frames * interval, 16))
                ds['data_prefix'] = dict(video=osp.join(workdir, 'spatial'))
                desc = f'{num_items} toy mp4 clips 256x256, {max(frames * interval, 16)} frames'
            else:
                lists = make_image_set(workdir, num_items, 0, size=320)
                ds['data_prefix'] = dict(img=osp.join(workdir, 'images'))
                desc = f'{num_items} toy JPEGs 320x320'
            ds['ann_file'] = lists['train']
            out['notes'].append(f'{name} data {ann!r} not found: decoding {desc} generated in a '
                                'temporary folder (real Kinetics/ImageNet files cost more to '
                                'decode)')
        ds['pipeline'] = [adapt_transform(t, frames, size, view,
                                           cfg.get('benchmark_base_size', 224))
                          for t in ds['pipeline']]
        out[name] = DATASETS.build(ds)
    return out


def time_pipeline(dataset, iters: int) -> Dict[str, Any]:
    """Per-sample time of a dataset's pipeline (one worker), per transform too.

    Args:
        dataset (BaseDataset): A built dataset.
        iters (int): Timed samples (after one untimed warm-up sample).

    Returns:
        dict: Medians: ``per_sample_ms``, ``samples_per_s`` and
        ``transforms_ms`` (transform class name -> ms).
    """
    per_transform: Dict[str, List[float]] = {}
    totals = []
    n = len(dataset)
    for i in range(iters + 1):
        results = dataset.get_data_info(i % n)
        start = time.perf_counter()
        for t in dataset.pipeline.transforms:
            t0 = time.perf_counter()
            results = t(results)
            if i:
                per_transform.setdefault(type(t).__name__, []).append(time.perf_counter() - t0)
        if i:  # the first sample warms decoders and caches
            totals.append(time.perf_counter() - start)
    med = statistics.median(totals)
    return dict(per_sample_ms=med * 1e3, samples_per_s=1. / med,
                transforms_ms={k: statistics.median(v) * 1e3
                               for k, v in per_transform.items()})


def time_masks(cfg: Config, frames: int, size: int, view: int, draws: int = 500
               ) -> Dict[str, float]:
    """Microseconds per mask of the config's generators at this clip size.

    Args:
        cfg (Config): A BEVT pretraining config.
        frames (int): Clip length.
        size (int): Crop size in pixels.
        view (int): Tokenizer view size in pixels.
        draws (int): Masks drawn per timing (5 timings). Defaults to 500.

    Returns:
        dict: ``<stream>_mask_us`` -> median microseconds per mask.
    """
    from mmaction.registry import TRANSFORMS
    out = {}
    for name, t in mask_cfgs(cfg).items():
        gen = TRANSFORMS.build(adapt_transform(t, frames, size, view,
                                                cfg.get('benchmark_base_size', 224)))
        results = dict(imgs=[None] * frames) if name == 'video' else {}
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(draws):
                gen.transform(dict(results))
            times.append((time.perf_counter() - start) / draws)
        out[f'{name}_mask_us'] = statistics.median(times) * 1e6
    return out


def data_report(cfg, frames, size, view, bv, bi, step_s, workers, iters) -> Dict[str, Any]:
    """Whether ``workers`` data workers keep up with a training step.

    Args:
        cfg (Config): A BEVT pretraining config.
        frames (int): Clip length.
        size (int): Crop size in pixels.
        view (int): Tokenizer view size in pixels.
        bv (int): Videos per batch.
        bi (int): Images per batch.
        step_s (float): Seconds per training step.
        workers (int): Data workers per GPU.
        iters (int): Timed samples per pipeline.

    Returns:
        dict: The pipelines' and masks' timings, one worker's seconds per
        batch, batches per second at ``workers`` and ``data_headroom``
        (> 1: the data keeps up).
    """
    with tempfile.TemporaryDirectory(prefix='bevt_bench_data_') as tmp:
        dsets = data_pipelines(cfg, frames, size, view, tmp)
        out: Dict[str, Any] = dict(notes=dsets['notes'])
        for name in ('video', 'image'):
            if name in dsets:
                out[name] = time_pipeline(dsets[name], iters)
    out['masks'] = time_masks(cfg, frames, size, view)
    # one worker makes whole batches: bv videos then bi images
    per_batch = (bv / out['video']['samples_per_s'] if bv and 'video' in out else 0.) + \
        (bi / out['image']['samples_per_s'] if bi and 'image' in out else 0.)
    out['workers'] = workers
    out['batch_time_one_worker_s'] = per_batch
    out['batches_per_s_at_workers'] = workers / per_batch if per_batch else float('inf')
    out['steps_per_s'] = 1. / step_s
    out['data_headroom'] = out['batches_per_s_at_workers'] * step_s
    return out
