"""BEiT v2's VQ-KD tokenizer through mmpretrain."""
import copy
from typing import Optional

from torch import Tensor

from mmaction.registry import MODELS
from .base import (BaseTokenizer, check_checkpoint_arg, checkpoint_error, extract_state_dict,
                   read_checkpoint_file)

#: mmpretrain's BEiT v2 ``vqkd_encoder`` (configs/beitv2/*.py).
VQKD_BASE_ENCODER = dict(
    arch='base', img_size=224, patch_size=16, in_channels=3, out_indices=-1, drop_rate=0.,
    drop_path_rate=0., norm_cfg=dict(type='LN', eps=1e-6), final_norm=True, out_type='featmap',
    with_cls_token=True, frozen_stages=-1, use_abs_pos_emb=True, use_rel_pos_bias=False,
    use_shared_rel_pos_bias=False, layer_scale_init_value=0., interpolate_mode='bicubic',
    patch_cfg=dict(), layer_cfgs=dict(), init_cfg=None)

_EXPECTED = ("mmpretrain's VQKD state dict (keys encoder.*, encode_task_layer.*, "
             'quantize.embedding.weight ...; plain or under "state_dict")')
_SOURCE = ('OpenMMLab: https://download.openmmlab.com/mmselfsup/1.x/target_generator_ckpt/'
           "vqkd_encoder.pth (BEiT v2's VQ-KD converted to mmpretrain's layout; download it "
           'yourself, nothing is downloaded at run time)')


@MODELS.register_module()
class VQKDTokenizer(BaseTokenizer):
    """BEiT v2 VQ-KD (mmpretrain's ``VQKD``) -> token ids.

    The encoder is a ViT with patch size 16, so token grid = input / 16: use
    a ``TokenizerView(size=224)`` (the crop itself) for a 14x14 grid.
    Pixel mapping defaults to ``[-1, 1]``, what mmpretrain's BEiT v2 recipe
    feeds its VQ-KD (``second_mean = second_std = 127.5``).

    Note: mmpretrain's quantizer updates its ``cluster_size`` usage statistic
    (a buffer) in eval mode too; token ids are unaffected.

    Args:
        checkpoint (str, optional): mmpretrain-layout VQKD weights.
        encoder_config (dict, optional): ``BEiTViT`` config (default:
            :data:`VQKD_BASE_ENCODER`).
        vocab_size (int): codebook size. Defaults to 8192.
        embed_dims (int): codebook vector size. Defaults to 32.
        pixel_mapping (str): Defaults to ``'minus_one_one'``.
        random_init (bool): allow building without weights (tests only).
        chunk_size (int): max frames per encoder call (0 = all).
    """

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 encoder_config: Optional[dict] = None,
                 vocab_size: int = 8192,
                 embed_dims: int = 32,
                 pixel_mapping: str = 'minus_one_one',
                 random_init: bool = False,
                 chunk_size: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        check_checkpoint_arg(checkpoint, random_init, 'VQKDTokenizer', _EXPECTED, _SOURCE)
        super().__init__(pixel_mapping, frozen=True, chunk_size=chunk_size, init_cfg=init_cfg)
        from mmpretrain.models.selfsup.beit import VQKD
        encoder_config = copy.deepcopy(encoder_config or VQKD_BASE_ENCODER)
        self.vocab_size = vocab_size
        self.downsample = int(encoder_config.get('patch_size', 16))
        self.vqkd = VQKD(encoder_config=encoder_config, num_embed=vocab_size,
                         embed_dims=embed_dims, quantize_kmeans_init=False)
        self.checkpoint = checkpoint
        if checkpoint is not None:
            raw = read_checkpoint_file(checkpoint, _EXPECTED, _SOURCE)
            try:
                state = extract_state_dict(raw, ('target_generator.', 'module.'))
            except TypeError as err:
                raise checkpoint_error(checkpoint, f'Not a VQKD state dict ({err})', _EXPECTED,
                                       _SOURCE) from err
            own = self.vqkd.state_dict()
            required = [k for k in own if not k.startswith('decoder.')]
            missing = [k for k in required if k not in state]
            wrong = [k for k in required if k in state and state[k].shape != own[k].shape]
            if missing or wrong:
                raise checkpoint_error(
                    checkpoint, f'VQKD weights do not match the configured model (missing '
                    f'{missing[:3]}, wrong shapes {wrong[:3]})', _EXPECTED, _SOURCE)
            self.vqkd.load_state_dict({k: state[k] for k in required}, strict=False)
        elif not random_init:
            raise checkpoint_error(None, 'VQKDTokenizer needs weights (checkpoint=None)',
                                   _EXPECTED, _SOURCE)
        self.freeze()

    def encode_ids(self, x: Tensor) -> Tensor:
        """Token ids ``(N, h/16, w/16)`` of mapped input."""
        n, _, h, w = x.shape
        return self.vqkd(x).view(n, h // self.downsample, w // self.downsample)
