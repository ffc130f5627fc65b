"""OpenAI's DALL-E dVAE encoder as BEVT's tokenizer (the paper's default)."""
from typing import List, Optional

import torch
from torch import Tensor

from mmaction.registry import MODELS
from ...utils.safe_load import UntrustedCheckpointError
from .base import (BaseTokenizer, check_checkpoint_arg, checkpoint_error, extract_state_dict,
                   read_checkpoint_file)

_EXPECTED = ("OpenAI's pickled dall_e.Encoder ('encoder.pkl', needs the dall-e and attrs "
             'packages to unpickle), or its state dict (keys blocks.input.w, '
             'blocks.group_1.block_1..., blocks.output.conv.w; plain or under "state_dict"), '
             'e.g. written by tools/convert/dalle_encoder_to_state_dict.py')
_SOURCE = ("OpenAI's release: https://cdn.openai.com/dall-e/encoder.pkl (download it "
           'yourself; nothing is downloaded at run time). Convert it once with '
           'tools/convert/dalle_encoder_to_state_dict.py to drop the pickle/dall-e dependency.')


def dalle_encoder_globals() -> List[type]:
    """The classes a pickled ``dall_e.Encoder`` (OpenAI's ``encoder.pkl``) is made of.

    Found by pickling a ``dall_e.Encoder`` and listing the globals torch's
    ``weights_only`` unpickler refuses (``tests/reliability/
    test_untrusted_checkpoints.py`` loads such a file). Empty when the
    ``dall-e`` package is not installed.
    """
    try:
        from dall_e.encoder import Encoder, EncoderBlock
        from dall_e.utils import Conv2d
    except ImportError:
        return []
    nn = torch.nn
    return [Encoder, EncoderBlock, Conv2d, nn.Sequential, nn.ReLU, nn.Identity, nn.MaxPool2d]


def load_dalle_state_dict(path: Optional[str]) -> dict:
    """Read a DALL-E encoder file: pickled ``dall_e.Encoder`` or state dict.

    Both are read with ``weights_only=True``; a pickled module may hold only
    the classes of :func:`dalle_encoder_globals` beyond the checkpoint
    allowlist, so its pickle cannot run code. The converted state dict
    (``tools/convert/dalle_encoder_to_state_dict.py``) needs neither ``dall-e``
    nor those classes.

    Returns:
        dict: the encoder state dict (``blocks.*``).

    Raises:
        TokenizerCheckpointError: missing file, not a DALL-E encoder, or a
            pickled module without the ``dall-e`` package installed.
        UntrustedCheckpointError: the pickle needs anything else.
    """
    extra = dalle_encoder_globals()
    try:
        raw = read_checkpoint_file(path, _EXPECTED, _SOURCE, extra_globals=extra)
    except UntrustedCheckpointError as err:
        if not extra and 'dall_e.' in str(err):
            raise checkpoint_error(
                path, 'The file is a pickled dall_e.Encoder but unpickling it needs the '
                'dall_e package (pip install dall-e attrs, or convert the file on a machine '
                'that has it)', _EXPECTED, _SOURCE) from err
        raise
    try:
        return extract_state_dict(raw, ('encoder.', 'module.'))
    except TypeError as err:
        raise checkpoint_error(path, f'Not a DALL-E encoder ({type(raw).__name__})', _EXPECTED,
                               _SOURCE) from err


@MODELS.register_module()
class DALLETokenizer(BaseTokenizer):
    """DALL-E dVAE encoder -> token ids (``argmax`` over the 8192 logits).

    Runs mmpretrain's ``DALLEEncoder`` (the same modules and parameter names
    as ``dall_e.Encoder``; it halves weights on CUDA exactly like
    ``dall_e.utils.Conv2d``), after DALL-E's ``map_pixels`` (eps 0.1) on
    ``x / 255``. Token ids equal ``dall_e.Encoder(map_pixels(x / 255))
    .argmax(1)`` for the same weights.

    Args:
        checkpoint (str, optional): ``encoder.pkl`` or a converted state dict.
        vocab_size (int): codebook size. Defaults to 8192.
        n_hid (int): hidden width. Defaults to 256.
        group_count (int): groups (each halves the size but the last).
            Defaults to 4 (factor 8: 112 -> 14).
        n_blk_per_group (int): blocks per group. Defaults to 2.
        random_init (bool): allow building without weights (tests only).
        chunk_size (int): max frames per encoder call (0 = all).
    """

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 vocab_size: int = 8192,
                 n_hid: int = 256,
                 group_count: int = 4,
                 n_blk_per_group: int = 2,
                 random_init: bool = False,
                 chunk_size: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        check_checkpoint_arg(checkpoint, random_init, 'DALLETokenizer', _EXPECTED, _SOURCE)
        super().__init__('dalle', frozen=True, chunk_size=chunk_size, init_cfg=init_cfg)
        from mmpretrain.models.selfsup.cae import DALLEEncoder
        self.vocab_size = vocab_size
        self.downsample = 2**(group_count - 1)
        self.encoder = DALLEEncoder(group_count=group_count, n_hid=n_hid,
                                    n_blk_per_group=n_blk_per_group, vocab_size=vocab_size)
        self.checkpoint = checkpoint
        if checkpoint is not None:
            state = load_dalle_state_dict(checkpoint)
            own = self.encoder.state_dict()
            missing = sorted(set(own) - set(state))
            wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
            if missing or wrong:
                raise checkpoint_error(
                    checkpoint, 'DALL-E encoder weights do not match the configured encoder '
                    f'(missing {missing[:3]}, wrong shapes {wrong[:3]}; n_hid/vocab_size/'
                    'group_count/n_blk_per_group must match the file)', _EXPECTED, _SOURCE)
            self.encoder.load_state_dict({k: state[k] for k in own}, strict=True)
        elif not random_init:
            raise checkpoint_error(None, 'DALLETokenizer needs weights (checkpoint=None)',
                                   _EXPECTED, _SOURCE)
        self.freeze()

    def encode_ids(self, x: Tensor) -> Tensor:
        """Argmax of the encoder logits of mapped input."""
        return self.encoder(x).argmax(1)
