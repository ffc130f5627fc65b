"""Common behaviour of BEVT tokenizers (target generators).

A tokenizer turns the tokenizer view of a clip or image into discrete token
ids, the classification targets of masked modeling. Every tokenizer here:

* is an mmengine ``BaseModule`` registered in ``mmaction.registry.MODELS``;
* takes ``x`` of shape ``(N, 3, h, w)``, uint8 or float in ``[0, 255]`` (the
  ``tokenizer_inputs`` of the data contract, frames batched by the caller) and
  returns a ``LongTensor`` of shape ``(N, h / f, w / f)``;
* applies its own pixel mapping (:func:`map_pixels`) on the input's device,
  which is why the data pipeline keeps the tokenizer view as uint8;
* is frozen: ``forward`` runs under ``torch.no_grad``, parameters do not
  require grad and ``train()`` keeps the module in eval mode;
* loads weights from ``checkpoint=``. Building without a checkpoint needs the
  explicit opt-in ``random_init=True`` (tests, or training a tokenizer from
  scratch); a missing or wrong file raises :class:`TokenizerCheckpointError`
  naming the path, the expected format and where such weights come from.
"""
import os.path as osp
from typing import Any, Dict, Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor

#: DALL-E's ``logit_laplace_eps`` (``dall_e.utils``).
DALLE_EPS = 0.1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PIXEL_MAPPINGS = ('dalle', 'minus_one_one', 'zero_one', 'imagenet')


class TokenizerCheckpointError(RuntimeError):
    """A tokenizer's weights file is missing or not in the expected format."""


def map_pixels(x: Tensor, mapping: str) -> Tensor:
    """Map pixels in ``[0, 255]`` to a tokenizer's input range (float32).

    Args:
        x (Tensor): ``(N, 3, h, w)`` uint8 or float in ``[0, 255]``.
        mapping (str): ``'dalle'`` (``(1 - 2 eps) x / 255 + eps``, eps 0.1, as
            ``dall_e.map_pixels``), ``'minus_one_one'`` (``x / 127.5 - 1``,
            taming VQGAN), ``'zero_one'`` (``x / 255``) or ``'imagenet'``
            (``(x / 255 - mean) / std``, BEiT v2's VQ-KD).

    Returns:
        Tensor: float32 tensor of the same shape.
    """
    x = x.float() / 255.
    if mapping == 'dalle':
        return (1 - 2 * DALLE_EPS) * x + DALLE_EPS
    if mapping == 'minus_one_one':
        return x * 2. - 1.
    if mapping == 'zero_one':
        return x
    if mapping == 'imagenet':
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (x - mean) / std
    raise ValueError(f'unknown pixel mapping {mapping!r}; choose from {PIXEL_MAPPINGS}')


def unmap_pixels(x: Tensor, mapping: str) -> Tensor:
    """Inverse of :func:`map_pixels`; returns uint8 in ``[0, 255]``."""
    if mapping == 'dalle':
        x = (x - DALLE_EPS) / (1 - 2 * DALLE_EPS)
    elif mapping == 'minus_one_one':
        x = (x + 1.) / 2.
    elif mapping == 'imagenet':
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        x = x * std + mean
    elif mapping != 'zero_one':
        raise ValueError(f'unknown pixel mapping {mapping!r}')
    return (x.clamp(0, 1) * 255.).round().to(torch.uint8)


def checkpoint_error(path: Optional[str], problem: str, expected: str,
                     source: str) -> TokenizerCheckpointError:
    """Build the error raised for a missing or wrong tokenizer weights file."""
    where = f': {path!r}' if path is not None else ''
    return TokenizerCheckpointError(
        f'{problem}{where}.\n  Expected format: {expected}\n'
        f'  Where such weights come from: {source}\n'
        '  (To build the tokenizer with random weights, e.g. for tests or to '
        'train it from scratch, pass random_init=True.)')


def check_checkpoint_arg(path: Optional[str], random_init: bool, owner: str, expected: str,
                         source: str) -> None:
    """Fail fast (before building any weights) on a missing weights file.

    Raises:
        TokenizerCheckpointError: ``path`` is None without ``random_init``, or
            names no file.
    """
    if path is None:
        if not random_init:
            raise checkpoint_error(None, f'{owner} needs weights (checkpoint=None)', expected,
                                   source)
        return
    if not osp.isfile(osp.expanduser(str(path))):
        raise checkpoint_error(path, f'{owner}: tokenizer checkpoint file not found', expected,
                               source)


def read_checkpoint_file(path: Optional[str], expected: str, source: str,
                         extra_globals: Sequence[Any] = ()) -> Any:
    """Load a weights file (restricted unpickling) or raise :class:`TokenizerCheckpointError`.

    Args:
        path (str, optional): the file.
        expected (str): description of the expected format (for messages).
        source (str): where such weights come from (for messages).
        extra_globals (sequence): globals allowed for this file beyond the
            checkpoint allowlist (e.g. the dall_e classes of OpenAI's pickled
            ``encoder.pkl``), see :func:`bevt_mm.utils.safe_load.load_checkpoint_file`.

    Returns:
        Any: what ``torch.load`` returned.

    Raises:
        UntrustedCheckpointError: the file's pickle needs another global.
    """
    from bevt_mm.utils.safe_load import UntrustedCheckpointError, load_checkpoint_file
    if path is None:
        raise checkpoint_error(path, 'No tokenizer checkpoint given (checkpoint=None)',
                               expected, source)
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise checkpoint_error(path, 'Tokenizer checkpoint file not found', expected, source)
    try:
        return load_checkpoint_file(path, extra_globals=extra_globals)
    except UntrustedCheckpointError:
        raise
    except Exception as err:  # noqa: BLE001 - re-raised with context
        raise checkpoint_error(
            path, f'Tokenizer checkpoint could not be read ({type(err).__name__}: '
            f'{str(err).splitlines()[0] if str(err) else ""})', expected, source) from err


def extract_state_dict(obj: Any, prefixes: Sequence[str] = ()) -> Dict[str, Tensor]:
    """Find the state dict in a loaded checkpoint and strip wrapper prefixes.

    Accepts a plain state dict or a dict holding one under ``state_dict``,
    ``model`` or ``module`` (Lightning, mmengine, timm checkpoints). Keys
    beginning with one of ``prefixes`` keep only the part after it; other
    keys are kept as they are.
    """
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ('state_dict', 'model', 'module'):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise TypeError('not a state dict of tensors')
    out = {}
    for key, value in obj.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


class BaseTokenizer(BaseModule):
    """Frozen tokenizer: maps pixels, encodes, returns token ids.

    Subclasses implement :meth:`encode_ids` (mapped float input -> ids) and set
    ``vocab_size`` and ``downsample``.

    Args:
        pixel_mapping (str): see :func:`map_pixels`.
        frozen (bool): keep eval mode and no grad (the tokenizer contract).
            Only ``tools/train_tokenizer.py`` builds a trainable one.
        chunk_size (int): encode at most this many frames per call, which
            bounds peak memory when a batch holds many frames. 0 = no limit.
        init_cfg (dict, optional): mmengine init config.
    """

    vocab_size: int
    downsample: int
    #: a frozen tokenizer runs its encoder on channels-last (NHWC) tensors:
    #: faster convolutions (cuDNN tensor cores under autocast, oneDNN on CPU)
    channels_last: bool = True

    def __init__(self, pixel_mapping: str, frozen: bool = True, chunk_size: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pixel_mapping not in PIXEL_MAPPINGS:
            raise ValueError(
                f'unknown pixel mapping {pixel_mapping!r}; choose from {PIXEL_MAPPINGS}')
        self.pixel_mapping = pixel_mapping
        self.frozen = frozen
        self.chunk_size = chunk_size

    def freeze(self) -> None:
        """Stop gradients and put the module in eval mode."""
        if self.frozen:
            for param in self.parameters():
                param.requires_grad_(False)
            super().train(False)

    def init_weights(self) -> None:
        """Tokenizer weights come from ``checkpoint=`` only; keep them."""
        # mmengine calls init_weights() on the whole model after building it;
        # re-initializing would destroy loaded weights, so it is a no-op.

    def train(self, mode: bool = True) -> 'BaseTokenizer':
        """Keep eval mode when frozen (returns self, like ``nn.Module``)."""
        return super().train(False if self.frozen else mode)

    def map_pixels(self, x: Tensor) -> Tensor:
        """Apply this tokenizer's pixel mapping (float32 output)."""
        return map_pixels(x, self.pixel_mapping)

    def encode_ids(self, x: Tensor) -> Tensor:
        """Token ids ``(N, h/f, w/f)`` of already mapped input ``(N, 3, h, w)``."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Token ids of pixels.

        Args:
            x (Tensor): ``(N, 3, h, w)`` uint8 or float in ``[0, 255]``.

        Returns:
            Tensor: int64 ``(N, h / downsample, w / downsample)``.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f'{type(self).__name__} expects (N, 3, h, w) input, got {tuple(x.shape)}')
        if x.shape[-1] % self.downsample or x.shape[-2] % self.downsample:
            raise ValueError(f'input size {tuple(x.shape[-2:])} is not a multiple of the '
                             f'downsampling factor {self.downsample}')
        with torch.no_grad():
            nhwc = self.channels_last and self.frozen
            if nhwc:
                self._to_channels_last()
            chunks = x.split(self.chunk_size) if self.chunk_size > 0 else (x, )
            ids = [self.encode_ids(self._layout(self.map_pixels(c), nhwc)) for c in chunks]
        return torch.cat(ids).long()

    @staticmethod
    def _layout(x: Tensor, nhwc: bool) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if nhwc else x

    def _to_channels_last(self) -> None:
        """Convolution weights in channels-last layout (once; again after a
        ``load_state_dict`` or ``.to()`` that brought another layout)."""
        for param in self.parameters():
            if param.dim() == 4 and not param.is_contiguous(
                    memory_format=torch.channels_last):
                param.data = param.data.contiguous(memory_format=torch.channels_last)
