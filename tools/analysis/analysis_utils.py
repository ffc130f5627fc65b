"""What the benchmark reads from a config: is it a BEVT pretraining config, and its sizes.

The benchmark's defaults (clip length, crop size, tokenizer view) come from the
config's own training pipelines, so ``tools/analysis/benchmark.py CONFIG`` runs
every pretraining config as shipped (the toy configs' 64-pixel crops included).
"""
from typing import Dict, Iterator, List

from mmengine.config import Config

PRETRAIN_EXAMPLES = ('configs/bevt/joint_swin_b.py', 'configs/toy/toy_joint_swin.py')


class NotPretrainConfigError(ValueError):
    """The config is not a BEVT pretraining config (no ``model.target_generator``)."""


def check_pretrain_config(cfg: Config, path: str) -> None:
    """Raise :class:`NotPretrainConfigError` (one line) unless ``cfg`` pretrains BEVT.

    A BEVT pretraining model has a ``target_generator`` (the tokenizer);
    fine-tuning configs (``Recognizer3D``) do not.
    """
    model = cfg.get('model', {}) or {}
    if 'target_generator' not in model:
        raise NotPretrainConfigError(
            f'{path} is not a BEVT pretraining config (model type {model.get("type")!r} has '
            'no model.target_generator); the benchmark times BEVT pretraining steps: pass a '
            f'pretraining config such as {" or ".join(PRETRAIN_EXAMPLES)}')


def _pipelines(cfg: Config) -> Iterator[List[Dict]]:
    ds = cfg.train_dataloader.dataset
    for d in (ds.datasets if 'datasets' in ds else [ds]):
        yield list(d.get('pipeline', []))


def pipeline_sizes(cfg: Config) -> Dict[str, int]:
    """The clip length, crop size and tokenizer view size of the training pipelines.

    Returns:
        dict: ``frames`` (``SampleFrames.clip_len`` or ``TubeMaskGenerator.num_frames``),
        ``crop`` (``RandomCrop``/``CenterCrop`` size), ``view``
        (``TokenizerView`` size); config variables ``num_frames``, ``crop_size``,
        ``tokenizer_view_size`` and then the recipe's 16, 224, 112 (DESIGN.md
        section 2) where the pipelines do not say.
    """
    found: Dict[str, int] = {}
    for pipeline in _pipelines(cfg):
        for t in pipeline:
            kind = t.get('type')
            if kind == 'SampleFrames':
                found.setdefault('frames', int(t['clip_len']))
            elif kind == 'TubeMaskGenerator' and t.get('num_frames'):
                found.setdefault('frames', int(t['num_frames']))
            elif kind in ('RandomCrop', 'CenterCrop'):
                size = t.get('size', t.get('crop_size'))
                found.setdefault('crop', int(size if isinstance(size, int) else size[0]))
            elif kind == 'TokenizerView':
                size = t['size']
                found.setdefault('view', int(size if isinstance(size, int) else size[0]))
    return dict(frames=found.get('frames', cfg.get('num_frames', 16)),
                crop=found.get('crop', cfg.get('crop_size', 224)),
                view=found.get('view', cfg.get('tokenizer_view_size', 112)))
