"""Ordered vs shuffled masked-token accuracy of a BEVT video stream.

:func:`frame_order_gap` evaluates the video stream's masked-token accuracy
on clips in order, with frames shuffled before masking, and with the
unmasked frames taken from another clip, plus two copy baselines
(:func:`copy_counts`). What the numbers mean and how to run it:
``tools/analysis/frame_order.py``.
"""
import copy
import math
from typing import Dict, Iterator, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import Tensor

from bevt_mm.analysis.measure import restores_torch_rng
from bevt_mm.utils.safe_load import load_checkpoint_file


def video_pipeline(cfg: Config, shuffle: bool, seed: int = 0) -> list:
    """The config's video pretraining pipeline, deterministic frame sampling.

    ``SampleFrames`` takes the test-mode (centred) clip; the spatial
    augmentation and the masks stay the config's. With ``shuffle``, a
    ``ShuffleFrames(seed)`` follows ``SampleFrames``.

    Args:
        cfg (Config): A BEVT pretraining config.
        shuffle (bool): Shuffle the frames of each clip before masking.
        seed (int): ``ShuffleFrames`` seed. Defaults to 0.

    Returns:
        list[dict]: The pipeline's transform configs.

    Raises:
        ValueError: If the config has no video dataset with ``SampleFrames``.
    """
    datasets = cfg.train_dataloader.dataset.get('datasets', [cfg.train_dataloader.dataset])
    for ds in datasets:
        pipe = copy.deepcopy(list(ds.get('pipeline', [])))
        idx = [i for i, t in enumerate(pipe) if t['type'] == 'SampleFrames']
        if idx:
            pipe[idx[0]]['test_mode'] = True
            if shuffle:
                pipe.insert(idx[0] + 1, dict(type='ShuffleFrames', seed=seed))
            return pipe
    raise ValueError(f'{cfg.filename}: no video dataset with SampleFrames in '
                     'train_dataloader.dataset(.datasets)')


def context_frames(target_mask: Tensor) -> Tensor:
    """Frames without a masked token.

    Args:
        target_mask (Tensor): Bool ``(N, T, h, w)``, True = masked target.

    Returns:
        Tensor: Bool ``(N, T)``.
    """
    return ~target_mask.flatten(2).any(2)


def swap_context_frames(clips: Tensor, target_mask: Tensor) -> Tensor:
    """Each clip's unmasked frames replaced by the same frames of the next clip.

    Args:
        clips (Tensor): Model inputs ``(N, C, T, H, W)``.
        target_mask (Tensor): Bool ``(N, T, h, w)`` (one mask per frame).

    Returns:
        Tensor: ``(N, C, T, H, W)``; frames with a masked token are clip ``n``'s,
        the others clip ``(n + 1) % N``'s.

    Raises:
        ValueError: With fewer than 2 clips (nothing to swap with).
    """
    if clips.shape[0] < 2:
        raise ValueError(f'swapping context frames needs at least 2 clips, got {clips.shape[0]}')
    context = context_frames(target_mask)[:, None, :, None, None].to(clips.device)
    return torch.where(context, clips.roll(-1, 0), clips)


def nearest_context_frame(target_mask: Tensor) -> Tensor:
    """Index of each frame's nearest unmasked frame (ties: the earlier), -1 if a clip has none.

    Args:
        target_mask (Tensor): Bool ``(N, T, h, w)``.

    Returns:
        Tensor: int64 ``(N, T)``.
    """
    context = context_frames(target_mask)
    t = torch.arange(context.shape[1])
    dist = (t[:, None] - t[None, :]).abs().float().expand(context.shape[0], -1, -1)
    dist = dist.masked_fill(~context[:, None, :], math.inf)
    nearest = dist.argmin(-1)  # the first minimum: the earlier frame on a tie
    return nearest.masked_fill(~context.any(1, keepdim=True), -1)


def _batches(model: torch.nn.Module, cfg: Config, ann_file: str, data_prefix: str,
             shuffle: bool, num_samples: Optional[int], seed: int,
             batch_size: int) -> Iterator[Dict]:
    """Preprocessed video batches (at least 2 clips each when there are 2), masks seeded.

    The mask generators draw from NumPy's global generator: it is seeded here
    and its previous state is back when the batches end.
    """
    from mmaction.registry import DATASETS
    # RobustVideoDataset: lists saved on Windows (BOM, CRLF) read right; an unreadable video
    # is named in a warning and the next one stands in for it (in both passes alike)
    dataset = DATASETS.build(dict(type='RobustVideoDataset', ann_file=ann_file, test_mode=True,
                                  data_prefix=dict(video=data_prefix),
                                  pipeline=video_pipeline(cfg, shuffle, seed)))
    count = len(dataset) if num_samples is None else min(num_samples, len(dataset))
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        for ids in np.array_split(np.arange(count), max(1, math.ceil(count / batch_size))):
            batch = pseudo_collate([dataset[int(i)] for i in ids])
            yield model.data_preprocessor(batch, False)
    finally:
        np.random.set_state(state)


@torch.no_grad()
def masked_token_accuracy(model: torch.nn.Module, cfg: Config, ann_file: str, data_prefix: str,
                          shuffle: bool, num_samples: Optional[int] = None, seed: int = 0,
                          batch_size: int = 8, with_context: bool = False) -> Dict:
    """Video masked-token accuracy (%) and loss of ``model`` over a video list.

    Args:
        model (nn.Module): A ``BEVT`` model (put in eval mode here).
        cfg (Config): Its pretraining config (the video pipeline).
        ann_file, data_prefix (str): The video list and folder.
        shuffle (bool): Shuffle each clip's frames before masking.
        num_samples (int, optional): First N videos of the list.
        seed (int): Seed of the masks (and of the shuffles).
        batch_size (int): Clips per forward pass (batches are split evenly).
        with_context (bool): Also measure, on the same decoded batches, the
            accuracy with the unmasked frames taken from another clip
            (:func:`swap_context_frames`) and the copy baselines.

    Returns:
        dict: ``acc`` (%, masked positions, weighted by clips), ``loss`` and
        ``num_clips``; with ``with_context`` also ``context_swapped`` (the same
        three keys; None for a single clip) and ``baselines``:
        ``most_common_code`` (the best constant guess on these masked tokens),
        ``nearest_unmasked_frame`` (the same cell's token in the nearest frame
        without a masked token; a clip without one counts as a miss), both %,
        and ``num_tokens``.
    """
    model.eval()
    sums = dict(acc=0.0, loss=0.0, swapped_acc=0.0, swapped_loss=0.0)
    count = copy_hits = num_tokens = 0
    codes = None
    for data in _batches(model, cfg, ann_file, data_prefix, shuffle, num_samples, seed,
                         batch_size):
        video = data['inputs']['video']
        n = len(video['inputs'])
        runs = [('', video)]
        if with_context and n > 1:
            runs.append(('swapped_', dict(video, inputs=swap_context_frames(
                video['inputs'], video['target_mask']))))
        for prefix, inputs in runs:
            out = model.loss(dict(data['inputs'], video=inputs), data['data_samples'])
            sums[prefix + 'acc'] += float(out['acc_video']) * n
            sums[prefix + 'loss'] += float(out['loss_video']) * n
        if with_context:
            ids = model.tokenize(None, video['tokenizer_inputs'], None)['video']  # (N, T, h, w)
            hits, hist = copy_counts(ids.cpu(), video['target_mask'].bool().cpu())
            copy_hits += hits
            num_tokens += int(hist.sum())
            codes = hist if codes is None else _add_counts(codes, hist)
        count += n
    result = dict(acc=sums['acc'] / count, loss=sums['loss'] / count, num_clips=count)
    if with_context:
        if not num_tokens:
            raise ValueError(f'{ann_file}: the clips evaluated hold no masked video token')
        result['context_swapped'] = None if count < 2 else dict(
            acc=sums['swapped_acc'] / count, loss=sums['swapped_loss'] / count, num_clips=count)
        result['baselines'] = dict(most_common_code=100.0 * int(codes.max()) / num_tokens,
                                   nearest_unmasked_frame=100.0 * copy_hits / num_tokens,
                                   num_tokens=num_tokens)
    return result


def copy_counts(ids: Tensor, target_mask: Tensor) -> Tuple[int, Tensor]:
    """Counts behind the copy baselines of :func:`masked_token_accuracy` for one batch.

    Args:
        ids (Tensor): int64 target codes of every frame ``(N, T, h, w)``.
        target_mask (Tensor): Bool ``(N, T, h, w)``, True = masked target.

    Returns:
        tuple: masked tokens equal to the same cell's token in the nearest
        unmasked frame (int), and the histogram of the masked codes (int64
        ``(max code + 1,)``).
    """
    nearest = nearest_context_frame(target_mask)
    copied = ids.gather(1, nearest.clamp(min=0)[..., None, None].expand_as(ids))
    hit = (copied == ids) & (nearest >= 0)[..., None, None] & target_mask
    return int(hit.sum()), torch.bincount(ids[target_mask].flatten())


def _add_counts(a: Tensor, b: Tensor) -> Tensor:
    size = max(len(a), len(b))
    return (torch.nn.functional.pad(a, (0, size - len(a)))
            + torch.nn.functional.pad(b, (0, size - len(b))))


@restores_torch_rng
def frame_order_gap(config: Union[str, Config], checkpoint: Optional[str], ann_file: str,
                    data_prefix: str, num_samples: Optional[int] = None, seed: int = 0,
                    cfg_options: Optional[dict] = None) -> Dict:
    """Masked-token accuracy of a pretraining checkpoint on ordered, shuffled and mixed clips.

    Args:
        config (str | Config): A BEVT pretraining config (its model and video
            pipeline); a Config is copied, not changed.
        checkpoint (str, optional): Its checkpoint (restricted loader); None
            = the model at initialization (seeded with ``seed``).
        ann_file, data_prefix, num_samples, seed: See :func:`masked_token_accuracy`.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        dict: ``ordered``, ``shuffled`` and ``context_swapped`` (``acc`` %,
        ``loss``, ``num_clips``); ``gap`` (ordered minus shuffled accuracy,
        points); ``context_gap`` (ordered minus context swapped, points;
        None for a single clip) and ``baselines`` (see :func:`masked_token_accuracy`).
    """
    import bevt_mm  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    if checkpoint:
        state = load_checkpoint_file(checkpoint, map_location='cpu')
        model.load_state_dict(state.get('state_dict', state))
    else:
        model.init_weights()
    ordered = masked_token_accuracy(model, cfg, ann_file, data_prefix, False, num_samples, seed,
                                    with_context=True)
    out = dict(context_swapped=ordered.pop('context_swapped'),
               baselines=ordered.pop('baselines'), ordered=ordered,
               shuffled=masked_token_accuracy(model, cfg, ann_file, data_prefix, True,
                                              num_samples, seed))
    out['gap'] = out['ordered']['acc'] - out['shuffled']['acc']
    swapped = out['context_swapped']
    out['context_gap'] = None if swapped is None else out['ordered']['acc'] - swapped['acc']
    return out
