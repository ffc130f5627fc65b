"""Training-step, memory, FLOPs and data-pipeline benchmark of a BEVT config.

:func:`run_benchmark` measures one device; :func:`with_cp_comparison` the
step with and without activation checkpointing in fresh processes;
:func:`stock_backbone` builds MMAction2's Swin baseline. What is measured
and how to run it: ``tools/analysis/benchmark.py``.
"""
import contextlib
import copy
import inspect
import multiprocessing as mp
import os
import resource
from typing import Any, Callable, Dict, Optional

import torch

from bevt_mm.analysis.measure import (AMP_DTYPES, PeakRSS, autocast, device_name, fwd_bwd,
                                      benchmark_settings, load_avg, matmul_rate,
                                      restores_torch_rng, round_robin, sync, time_stats)

from bevt_mm.analysis.step_setup import build_model_and_optim, make_batch, prepare_config
from bevt_mm.analysis.attention import attention_compare
from bevt_mm.analysis.data_timing import data_report
from bevt_mm.analysis.flops import step_flops, swin_forward_flops


#: the order of the step parts in the table
PARTS = ('tokenizer', 'backbone_video', 'backbone_image', 'head', 'optimizer')


# ------------------------------------------------------------------ model parts


def stock_backbone(bb_cfg: Dict) -> torch.nn.Module:
    """The stock MMAction2 backbone that a BEVT backbone config extends, at random init.

    The stock class is the first MMAction2 class in the BEVT class's MRO
    (``BEVTSwinTransformer3D`` -> ``SwinTransformer3D``, ``BEVTTimeSformer`` ->
    ``TimeSformer``). It gets only the config keys its ``__init__`` names, so
    keys of ours (``relative_bias_lookup``, ``mask_token``, ``fused_attention``,
    ...) never reach it; ``pretrained``/``pretrained2d``/``init_cfg`` are dropped
    (the baseline is random init).

    Args:
        bb_cfg (dict): The config's ``model.backbone``.

    Returns:
        nn.Module: The stock backbone, random init.

    Raises:
        ValueError: ``bb_cfg.type`` extends no MMAction2 backbone.
    """
    from mmaction.registry import MODELS
    cls = MODELS.get(bb_cfg['type'])
    stock = next((c for c in cls.__mro__ if c.__module__.startswith('mmaction.')), None)
    if stock is None:
        raise ValueError(f"model.backbone.type={bb_cfg['type']!r} extends no MMAction2 "
                         'backbone: the benchmark has no stock baseline for it')
    params = inspect.signature(stock.__init__).parameters
    named = {n for n, p in params.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != 'self'}
    kwargs = {k: copy.deepcopy(v) for k, v in bb_cfg.items()
              if k in named and k not in ('pretrained', 'pretrained2d', 'init_cfg')}
    return stock(**kwargs)


def _stock_backbones(bb_cfg: Dict, device: torch.device):
    """Stock MMAction2 Swin (explicit attention) and ours with SDPA, same shapes."""
    from mmaction.registry import MODELS
    stock = stock_backbone(bb_cfg)
    ours = MODELS.build(dict(bb_cfg, pretrained=None, final_norm=True, mask_token=False,
                             fused_attention=True))
    ours.load_state_dict(stock.state_dict(), strict=False)
    for m in (stock, ours):
        m.to(device).train()
    return stock, ours


# ------------------------------------------------------------------ the run
@restores_torch_rng
def run_benchmark(config: str, **kwargs) -> Dict[str, Any]:
    """Run the benchmark (what it measures: ``tools/analysis/benchmark.py``).

    Torch's thread count, the cuDNN/TF32 flags and mmengine's log level are
    set for the run (``threads``; on CUDA ``cudnn.benchmark`` and TF32 on;
    logs at ERROR) and restored when it returns.

    Args:
        config (str): a BEVT pretraining config file.
        **kwargs: the options of the run (``device``, ``amp``, ``iters``,
            ``threads``, ...; see ``tools/analysis/benchmark.py --help``).

    Returns:
        dict: JSON-able results (times in seconds, memory in bytes).
    """
    with benchmark_settings(torch.device(kwargs.get('device', 'cpu')), kwargs.get('threads')):
        return _run_benchmark(config, **kwargs)


def _run_benchmark(config: str,
                   cfg_options: Optional[Dict] = None,
                   device: str = 'cpu',
                   amp: str = 'none',
                   iters: int = 5,
                   warmup: int = 2,
                   batch_videos: Optional[int] = None,
                   batch_images: Optional[int] = None,
                   frames: Optional[int] = None,
                   size: Optional[int] = None,
                   arch: Optional[str] = None,
                   with_cp: Optional[bool] = None,
                   with_cp_compare: bool = False,
                   data_workers: int = 4,
                   data_iters: int = 8,
                   attention: bool = True,
                   data: bool = True,
                   steps_only: bool = False,
                   threads: Optional[int] = None,
                   seed: int = 0) -> Dict[str, Any]:
    import bevt_mm  # noqa: F401  (registers everything)
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    torch.manual_seed(seed)
    dev = torch.device(device)
    if amp not in AMP_DTYPES:
        raise ValueError(f'amp must be one of {list(AMP_DTYPES)}, got {amp!r}')
    cfg = prepare_config(config, cfg_options, arch=arch, frames=frames, size=size,
                         with_cp=with_cp)
    frames, size = cfg.benchmark_frames, cfg.benchmark_size
    bv = cfg.get('videos_per_gpu', 8) if batch_videos is None else batch_videos
    bi = cfg.get('images_per_gpu', 64) if batch_images is None else batch_images
    view = cfg.benchmark_view
    result: Dict[str, Any] = dict(
        config=config, device=device_name(dev), torch=torch.__version__, amp=amp,
        threads=torch.get_num_threads(), load_avg_start=load_avg(),
        arch=cfg.model.backbone.arch, frames=frames, size=size, tokenizer_view=view,
        batch_videos=bv, batch_images=bi, with_cp=bool(cfg.model.backbone.get('with_cp')),
        iters=iters, warmup=warmup, notes=list(cfg.benchmark_notes))

    model, optim = build_model_and_optim(cfg, dev, amp)
    batch = make_batch(cfg, bv, bi, frames, size, view, seed)
    amp_ctx = (lambda: autocast(dev, amp)) if dev.type == 'cpu' else contextlib.nullcontext

    def full_step():
        with amp_ctx():
            model.train_step(batch, optim)

    # targets for the tokenizer-free step and the parts
    streams = model.data_preprocessor(batch, True)['inputs']
    present = {k: s for k, s in streams.items() if s is not None}
    img_view = present['image']['tokenizer_inputs'] if 'image' in present else None
    vid_view = present['video']['tokenizer_inputs'] if 'video' in present else None
    vid_mask = present['video']['target_mask'] if 'video' in present else None
    tokenize = model.tokenize
    with optim.optim_context(model), amp_ctx():
        targets = tokenize(img_view, vid_view, vid_mask)

    def step_no_tok():
        model.tokenize = lambda *a: targets
        try:
            with amp_ctx():
                model.train_step(batch, optim)
        finally:
            del model.tokenize

    def part_tokenizer():
        with optim.optim_context(model), amp_ctx():
            tokenize(img_view, vid_view, vid_mask)

    feats_cache = {}

    def part_backbone(name):
        def fn():
            s = present[name]
            with optim.optim_context(model), amp_ctx():
                feats = model.backbone.forward_pretrain(s['inputs'], s['mask'])
            feats_cache[name] = tuple(f.detach() for f in feats)
            torch.autograd.backward(list(feats), [torch.ones_like(f) for f in feats])
        return fn

    def part_head():
        losses = {}
        with optim.optim_context(model), amp_ctx():
            for name in present:
                feats = tuple(f.clone().requires_grad_(True) for f in feats_cache[name])
                losses.update(model.head.loss(name, feats, targets[name],
                                              present[name]['target_mask']))
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()

    def part_optimizer():
        optim.step()

    stock, ours_plain = _stock_backbones(cfg.model.backbone, dev)
    vid_x = present['video']['inputs'] if 'video' in present else None
    img_x = present['image']['inputs'] if 'image' in present else None

    def stock_video():
        fwd_bwd(stock, vid_x, amp_ctx if dev.type == 'cpu' else lambda: autocast(dev, amp))

    def plain(x, fused):
        def fn():
            ours_plain.fused_attention = fused
            fwd_bwd(ours_plain, x, lambda: autocast(dev, amp))
        return fn

    # steps_only (the with_cp comparison): the tokenizer-free step alone,
    # where activation checkpointing acts
    fns: Dict[str, Callable] = dict(step_no_tokenizer=step_no_tok) if steps_only else \
        dict(step=full_step, step_no_tokenizer=step_no_tok)
    mem_step = step_no_tok if steps_only else full_step
    if not steps_only:
        fns['tokenizer'] = part_tokenizer
        for name in ('video', 'image'):
            if name in present:
                fns[f'backbone_{name}'] = part_backbone(name)
        fns['head'] = part_head
        fns['optimizer'] = part_optimizer
        if vid_x is not None:
            fns['stock_video'] = stock_video
            fns['stock_video_sdpa'] = plain(vid_x, True)
        if img_x is not None:
            fns['plain_image_explicit'] = plain(img_x, False)
            fns['plain_image_sdpa'] = plain(img_x, True)

    # warm-up: the first step allocates gradients and optimizer states
    for _ in range(max(1, warmup)):
        mem_step()
    sync(dev)
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(dev)
    # peak memory of full steps once gradients and optimizer states exist
    with PeakRSS() as rss:
        for _ in range(2):
            mem_step()
            sync(dev)
    memory = dict(kind='cuda_max_allocated' if dev.type == 'cuda' else 'cpu_peak_rss_sampled',
                  step='step_no_tokenizer' if steps_only else 'step')
    if dev.type == 'cuda':
        memory['peak_bytes'] = int(torch.cuda.max_memory_allocated(dev))
    else:
        memory['peak_bytes'] = int(rss.peak)
        memory['increase_over_pre_step_bytes'] = int(rss.peak - rss.start)
        memory['ru_maxrss_bytes'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result['memory'] = memory

    times = round_robin(fns, warmup=1 if warmup else 0, iters=iters, device=dev)
    result['load_avg_end'] = load_avg()
    t = {k: time_stats(v) for k, v in times.items()}
    result['times'] = t
    if steps_only:
        return result
    med = {k: v['median_s'] for k, v in t.items()}
    result['throughput'] = dict(
        steps_per_s=1. / med['step'],
        clips_per_s=bv / med['step'], images_per_s=bi / med['step'],
        clips_per_s_no_tokenizer=bv / med['step_no_tokenizer'],
        images_per_s_no_tokenizer=bi / med['step_no_tokenizer'])
    ratios = {}
    if 'stock_video' in med:
        base_asis = med['stock_video'] + med.get('plain_image_explicit', 0.)
        base_sdpa = med['stock_video_sdpa'] + med.get('plain_image_sdpa', 0.)
        ratios['step_no_tokenizer_vs_stock'] = med['step_no_tokenizer'] / base_asis
        ratios['step_no_tokenizer_vs_stock_sdpa'] = med['step_no_tokenizer'] / base_sdpa
        ratios['step_vs_stock'] = med['step'] / base_asis
        ratios['stock_explicit_vs_sdpa'] = med['stock_video'] / med['stock_video_sdpa']
    if 'tokenizer' in med:
        ratios['tokenizer_share_of_step'] = med['tokenizer'] / med['step']
        parts = sum(med[p] for p in PARTS if p in med)
        ratios['parts_sum_vs_step'] = parts / med['step']
    result['ratios'] = ratios

    # FLOPs and utilization
    vm = present['video']['target_mask'].float().sum().item() / bv if bv else 0.
    im = present['image']['target_mask'].float().sum().item() / bi if bi else 0.
    tok_frames = bi + (int(present['video']['target_mask'].flatten(2).any(2).sum())
                       if bv else 0)
    fl = step_flops(model, bv, bi, frames, size, view, vm, im, tokenizer_frames=tok_frames)
    fl_no_tok = fl['step'] - fl.get('tokenizer_fwd', 0.)
    if 'stock_video' in ratios:
        # the ratio at equal efficiency: the step's FLOPs over the baseline's
        # (decoders and classifier are work the stock backbone does not do)
        base = 3. * (fl.get('video_backbone_fwd', 0.) + fl.get('image_backbone_fwd', 0.))
        ratios['flops_step_no_tokenizer_vs_stock'] = fl_no_tok / base if base else 0.
    dtype = AMP_DTYPES[amp] or torch.float32
    rate = matmul_rate(dev, dtype)
    result['flops'] = dict(fl, step_no_tokenizer=fl_no_tok,
                           stock_video_fwd_bwd=3. * bv * swin_forward_flops(
                               model.backbone, (frames, size, size))['total'] if bv else 0.,
                           method='counted formula (bevt_mm.analysis.flops), fwd+bwd = 3x fwd')
    result['matmul'] = dict(dtype=str(dtype).replace('torch.', ''), flops_per_s=rate)
    result['utilization'] = dict(
        step=fl['step'] / med['step'] / rate,
        step_no_tokenizer=fl_no_tok / med['step_no_tokenizer'] / rate)
    if 'stock_video' in med:
        result['utilization']['stock_video'] = \
            result['flops']['stock_video_fwd_bwd'] / med['stock_video'] / rate

    if attention and not steps_only:
        result['attention'] = attention_compare(model, frames, size, max(bv, 1), dev, amp,
                                                warmup=1, iters=max(3, iters))
    if data and not steps_only:
        result['data'] = data_report(cfg, frames, size, view, bv, bi, med['step'],
                                      data_workers, data_iters)
    if with_cp_compare and not steps_only:
        result['with_cp_compare'] = with_cp_comparison(dict(
            config=config, cfg_options=cfg_options, device=device, amp=amp, iters=iters,
            warmup=warmup, batch_videos=bv, batch_images=bi, frames=frames, size=size,
            arch=arch, threads=threads, seed=seed))
    result['load_avg_end'] = load_avg()
    return result


# ------------------------------------------------------------------ with_cp
def _cp_child(kwargs: Dict, queue) -> None:
    try:
        res = run_benchmark(**kwargs)
        queue.put(dict(step_s=res['times']['step_no_tokenizer']['median_s'],
                       memory=res['memory'], load_avg=res['load_avg_end']))
    except Exception as err:  # noqa: BLE001 - reported in the parent
        queue.put(dict(error=f'{type(err).__name__}: {err}'))


def with_cp_comparison(kwargs: Dict) -> Dict[str, Any]:
    """Step time and peak memory with and without ``with_cp``, each in a fresh
    process (so that peak RSS on CPU is that configuration's own).

    The step is the one without the tokenizer (targets precomputed); memory is
    the peak over two steps after warm-up (gradients and optimizer states
    already allocated). On CPU the comparison uses the increase of the
    resident size over its value before those steps, with glibc's mmap
    threshold fixed so that freed activations leave the resident set.

    Args:
        kwargs (dict): :func:`run_benchmark`'s arguments (``config`` included).

    Returns:
        dict: ``no_cp`` and ``with_cp`` (step seconds, memory, or ``error``);
        when both ran, ``memory_key``, ``memory_reduction`` and
        ``time_increase`` (fractions).
    """
    ctx = mp.get_context('spawn')
    out = {}
    for cp in (False, True):
        queue = ctx.Queue()
        # a fixed mmap threshold makes glibc return freed large blocks to the
        # OS, so that the resident size follows what the step really holds
        old = os.environ.get('MALLOC_MMAP_THRESHOLD_')
        os.environ['MALLOC_MMAP_THRESHOLD_'] = '131072'
        proc = ctx.Process(target=_cp_child, args=(dict(
            kwargs, with_cp=cp, steps_only=True, attention=False, data=False), queue))
        proc.start()
        if old is None:
            os.environ.pop('MALLOC_MMAP_THRESHOLD_')
        else:
            os.environ['MALLOC_MMAP_THRESHOLD_'] = old
        out['with_cp' if cp else 'no_cp'] = queue.get()
        proc.join()
    a, b = out['no_cp'], out['with_cp']
    if 'error' not in a and 'error' not in b:
        key = 'peak_bytes' if a['memory']['kind'].startswith('cuda') else \
            'increase_over_pre_step_bytes'
        out['memory_key'] = key
        out['memory_reduction'] = 1. - b['memory'][key] / max(a['memory'][key], 1)
        out['time_increase'] = b['step_s'] / a['step_s'] - 1.
    return out
