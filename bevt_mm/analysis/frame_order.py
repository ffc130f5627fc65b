"""Does the video stream use frame order? Masked-token accuracy on ordered vs shuffled clips.

A masked video model can fill a masked tube from the same place in other
frames (appearance) or by following the motion (frame order). Shuffling the
frames of a clip before masking keeps every frame and every target but breaks
the motion; the drop of masked-token accuracy from ordered to shuffled clips
is what the model takes from frame order. On toy-temporal, where the class
*is* the frame order, a video stream whose accuracy does not drop has learned
nothing a temporal probe could read.

Both passes see the same clips, the same tube masks (the global NumPy RNG is
re-seeded before each pass and :class:`~bevt_mm.datasets.transforms.ShuffleFrames`
draws from its own per-sample generator) and the same targets (the tokenizer
sees the shuffled frames too); only the frame order differs.
"""
import copy
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from ..engine.safe_load import load_checkpoint_file


def video_pipeline(cfg: Config, shuffle: bool, seed: int = 0) -> list:
    """The config's video pretraining pipeline, deterministic frame sampling.

    ``SampleFrames`` takes the test-mode (centred) clip; the spatial
    augmentation and the masks stay the config's. With ``shuffle``, a
    ``ShuffleFrames(seed)`` follows ``SampleFrames``.

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


@torch.no_grad()
def masked_token_accuracy(model: torch.nn.Module, cfg: Config, ann_file: str, data_prefix: str,
                          shuffle: bool, num_samples: Optional[int] = None, seed: int = 0,
                          batch_size: int = 8) -> Dict[str, float]:
    """Video masked-token accuracy (%) and loss of ``model`` over a video list.

    Args:
        model (nn.Module): A ``BEVT`` model (put in eval mode here).
        cfg (Config): Its pretraining config (the video pipeline).
        ann_file, data_prefix (str): The video list and folder.
        shuffle (bool): Shuffle each clip's frames before masking.
        num_samples (int, optional): First N videos of the list.
        seed (int): Seed of the masks (and of the shuffles).
        batch_size (int): Clips per forward pass.

    Returns:
        dict: ``acc`` (%, masked positions, weighted by clips) and ``loss``.
    """
    from mmaction.registry import DATASETS
    dataset = DATASETS.build(dict(type='VideoDataset', ann_file=ann_file,
                                  data_prefix=dict(video=data_prefix),
                                  pipeline=video_pipeline(cfg, shuffle, seed)))
    count = len(dataset) if num_samples is None else min(num_samples, len(dataset))
    model.eval()
    np.random.seed(seed)
    acc = loss = 0.0
    for start in range(0, count, batch_size):
        batch = pseudo_collate([dataset[i] for i in range(start, min(start + batch_size, count))])
        data = model.data_preprocessor(batch, False)
        out = model.loss(data['inputs'], data['data_samples'])
        n = len(batch['inputs'])
        acc += float(out['acc_video']) * n
        loss += float(out['loss_video']) * n
    return dict(acc=acc / count, loss=loss / count, num_clips=count)


def frame_order_gap(config: str, checkpoint: Optional[str], ann_file: str, data_prefix: str,
                    num_samples: Optional[int] = None, seed: int = 0,
                    cfg_options: Optional[dict] = None) -> Dict:
    """Masked-token accuracy of a pretraining checkpoint on ordered and shuffled clips.

    Args:
        config (str): A BEVT pretraining config (its model and video pipeline).
        checkpoint (str, optional): Its checkpoint (restricted loader); None
            = the model at initialization (seeded with ``seed``).
        ann_file, data_prefix, num_samples, seed: See :func:`masked_token_accuracy`.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        dict: ``ordered`` and ``shuffled`` (``acc`` %, ``loss``) and
        ``gap`` (ordered minus shuffled accuracy, points).
    """
    import bevt_mm  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(config)
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
    out = {name: masked_token_accuracy(model, cfg, ann_file, data_prefix, shuffle, num_samples,
                                       seed)
           for name, shuffle in (('ordered', False), ('shuffled', True))}
    out['gap'] = out['ordered']['acc'] - out['shuffled']['acc']
    return out
