"""VQ-VAE tokenizer in the layout of taming-transformers' VQGAN.

Module and parameter names follow ``taming.models.vqgan.VQModel`` and
``taming.modules.diffusionmodules.model.{Encoder, Decoder}`` exactly, so the
state dict of :class:`VQVAETokenizer` *is* a VQGAN state dict:

``encoder.conv_in``, ``encoder.down.{i}.block.{j}.{norm1,conv1,norm2,conv2,
nin_shortcut}``, ``encoder.down.{i}.attn.{j}.{norm,q,k,v,proj_out}``,
``encoder.down.{i}.downsample.conv``, ``encoder.mid.{block_1,attn_1,block_2}``,
``encoder.norm_out``, ``encoder.conv_out``, ``quant_conv``,
``quantize.embedding.weight``, ``post_quant_conv`` and the mirrored
``decoder.*`` (``decoder.up.{i}.{block,attn,upsample}``).

Checkpoints that load (``checkpoint=``):

* taming-transformers VQGAN checkpoints (``*.ckpt`` from PyTorch Lightning:
  a dict with ``state_dict``); ``loss.*`` (discriminator, LPIPS) and, when the
  tokenizer is built without decoder, ``decoder.*``/``post_quant_conv.*`` are
  ignored. Set ``ch``, ``ch_mult``, ``num_res_blocks``, ``attn_resolutions``,
  ``resolution``, ``z_channels``, ``embed_dim`` and ``vocab_size`` to the
  checkpoint's ``ddconfig``/``n_embed``/``embed_dim`` (its ``config.yaml``).
  For BEVT's 112 -> 14 grid the downsampling factor ``2 ** (len(ch_mult)-1)``
  must be 8.
* PeCo's perceptual codebook (a VQGAN trained with a perceptual loss) in the
  same layout, also when its keys carry a wrapper prefix (``module.``,
  ``model.``, ``tokenizer.``, ``vqgan.``), which is stripped.
* checkpoints written by ``tools/train_tokenizer.py`` (mmengine-style
  ``{'state_dict': ..., 'meta': {'tokenizer_cfg': ...}}``): the stored
  architecture replaces the arguments (a warning names what changed).

Missing encoder/quantizer keys, or a tensor of the wrong shape, raise
:class:`TokenizerCheckpointError`. Pixel mapping defaults to VQGAN's
``[-1, 1]``; set ``pixel_mapping`` if a checkpoint was trained otherwise.
Not loadable: VQGAN variants with a Gumbel quantizer (``quantize.embed``) or
the EMA quantizer of ``taming.modules.vqvae.quantize.EMAVectorQuantizer``.
"""
import logging
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor, nn

from mmaction.registry import MODELS
from .base import (BaseTokenizer, check_checkpoint_arg, checkpoint_error,
                   extract_state_dict, read_checkpoint_file, unmap_pixels)

_EXPECTED = ('a taming-transformers VQGAN state dict (keys encoder.*, quant_conv.*, '
             'quantize.embedding.weight; optionally decoder.*, post_quant_conv.*), '
             'plain or under "state_dict" (Lightning .ckpt / mmengine checkpoint)')
_SOURCE = ('taming-transformers VQGAN releases (github.com/CompVis/taming-transformers), '
           "PeCo's released tokenizer (github.com/microsoft/PeCo), or train one with "
           'tools/train_tokenizer.py')
_PREFIXES = ('module.', 'model.', 'tokenizer.', 'vqgan.', 'first_stage_model.')


def _norm(channels: int, num_groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=num_groups, num_channels=channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """taming ``ResnetBlock`` without time embedding (VQGAN's ``temb_ch=0``)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float,
                 num_groups: int) -> None:
        super().__init__()
        self.norm1 = _norm(in_channels, num_groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = _norm(out_channels, num_groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        if hasattr(self, 'nin_shortcut'):
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    """taming ``AttnBlock``: single-head spatial self-attention."""

    def __init__(self, channels: int, num_groups: int) -> None:
        super().__init__()
        self.norm = _norm(channels, num_groups)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        b, c, hh, ww = h.shape
        q = self.q(h).flatten(2).transpose(1, 2)
        k = self.k(h).flatten(2).transpose(1, 2)
        v = self.v(h).flatten(2).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj_out(out.transpose(1, 2).reshape(b, c, hh, ww))


class Downsample(nn.Module):
    """taming ``Downsample``: asymmetric pad + stride-2 conv, or avg-pool."""

    def __init__(self, channels: int, with_conv: bool) -> None:
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, 2, 0)

    def forward(self, x: Tensor) -> Tensor:
        if self.with_conv:
            return self.conv(F.pad(x, (0, 1, 0, 1)))
        return F.avg_pool2d(x, 2, 2)


class Upsample(nn.Module):
    """taming ``Upsample``: nearest x2 (+ conv)."""

    def __init__(self, channels: int, with_conv: bool) -> None:
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode='nearest')
        return self.conv(x) if self.with_conv else x


class Encoder(nn.Module):
    """taming ``Encoder`` (``double_z=False`` as in VQGAN)."""

    def __init__(self, ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 attn_resolutions: Sequence[int], dropout: float, resamp_with_conv: bool,
                 in_channels: int, resolution: int, z_channels: int, num_groups: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, ch, 3, 1, 1)
        in_ch_mult = (1, ) + tuple(ch_mult)
        curr_res = resolution
        self.down = nn.ModuleList()
        block_in = ch
        for i_level, mult in enumerate(ch_mult):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_in, block_out = ch * in_ch_mult[i_level], ch * mult
            for _ in range(num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out, dropout, num_groups))
                block_in = block_out
                if curr_res in attn_resolutions:
                    level.attn.append(AttnBlock(block_in, num_groups))
            if i_level != len(ch_mult) - 1:
                level.downsample = Downsample(block_in, resamp_with_conv)
                curr_res //= 2
            self.down.append(level)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in, dropout, num_groups)
        self.mid.attn_1 = AttnBlock(block_in, num_groups)
        self.mid.block_2 = ResnetBlock(block_in, block_in, dropout, num_groups)
        self.norm_out = _norm(block_in, num_groups)
        self.conv_out = nn.Conv2d(block_in, z_channels, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for level in self.down:
            for i, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[i](h)
            if hasattr(level, 'downsample'):
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """taming ``Decoder`` (``give_pre_end=False``)."""

    def __init__(self, ch: int, ch_mult: Sequence[int], num_res_blocks: int,
                 attn_resolutions: Sequence[int], dropout: float, resamp_with_conv: bool,
                 out_channels: int, resolution: int, z_channels: int, num_groups: int) -> None:
        super().__init__()
        block_in = ch * ch_mult[-1]
        curr_res = resolution // 2**(len(ch_mult) - 1)
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, 1, 1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in, dropout, num_groups)
        self.mid.attn_1 = AttnBlock(block_in, num_groups)
        self.mid.block_2 = ResnetBlock(block_in, block_in, dropout, num_groups)
        up_levels = []
        for i_level in reversed(range(len(ch_mult))):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                level.block.append(ResnetBlock(block_in, block_out, dropout, num_groups))
                block_in = block_out
                if curr_res in attn_resolutions:
                    level.attn.append(AttnBlock(block_in, num_groups))
            if i_level != 0:
                level.upsample = Upsample(block_in, resamp_with_conv)
                curr_res *= 2
            up_levels.insert(0, level)
        self.up = nn.ModuleList(up_levels)
        self.norm_out = _norm(block_in, num_groups)
        self.conv_out = nn.Conv2d(block_in, out_channels, 3, 1, 1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for level in reversed(self.up):
            for i, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[i](h)
            if hasattr(level, 'upsample'):
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """taming ``VectorQuantizer``: nearest codebook entry, straight-through."""

    def __init__(self, num_embed: int, embed_dim: int, beta: float) -> None:
        super().__init__()
        self.beta = beta
        self.embedding = nn.Embedding(num_embed, embed_dim)
        self.embedding.weight.data.uniform_(-1.0 / num_embed, 1.0 / num_embed)

    def lookup(self, z: Tensor) -> Tensor:
        """Nearest code ids ``(N, h, w)`` of ``z`` ``(N, C, h, w)``."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        weight = self.embedding.weight
        dist = (flat.pow(2).sum(1, keepdim=True) + weight.pow(2).sum(1)
                - 2 * flat @ weight.t())
        return dist.argmin(1).view(z.shape[0], z.shape[2], z.shape[3])

    def embed(self, ids: Tensor) -> Tensor:
        """Codebook vectors ``(N, C, h, w)`` of ids ``(N, h, w)``."""
        return self.embedding(ids).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: Tensor):
        """Quantize with the VQ-VAE losses (codebook + beta * commitment)."""
        ids = self.lookup(z)
        z_q = self.embed(ids)
        loss = F.mse_loss(z_q, z.detach()) + self.beta * F.mse_loss(z, z_q.detach())
        return z + (z_q - z).detach(), loss, ids


@MODELS.register_module()
class VQVAETokenizer(BaseTokenizer):
    """VQ-VAE / VQGAN tokenizer (taming-transformers layout).

    Frozen target generator for BEVT (``forward`` -> token ids), ``decode``
    for visualizing ids, and a training forward (:meth:`forward_train`) used by
    ``tools/train_tokenizer.py``. See the module docstring for the checkpoint
    layouts that load.

    Args:
        ch (int): base channels. Defaults to 128.
        ch_mult (Sequence[int]): channel multipliers per level; the input is
            downsampled ``2 ** (len(ch_mult) - 1)`` times. Defaults to
            ``(1, 1, 2, 4)`` (factor 8: 112 -> 14).
        num_res_blocks (int): residual blocks per level. Defaults to 2.
        attn_resolutions (Sequence[int]): feature sizes (relative to
            ``resolution``) that get attention blocks. Defaults to ().
        resolution (int): nominal input size (decides where attention sits).
            Defaults to 112.
        z_channels (int): encoder output channels. Defaults to 256.
        embed_dim (int): codebook vector size. Defaults to 256.
        vocab_size (int): codebook size. Defaults to 8192.
        num_groups (int): GroupNorm groups (taming: 32). Defaults to 32.
        dropout (float): dropout in residual blocks. Defaults to 0.
        resamp_with_conv (bool): conv in down/upsampling. Defaults to True.
        beta (float): commitment weight for training. Defaults to 0.25.
        with_decoder (bool): build ``post_quant_conv`` and ``decoder`` (needed
            for ``decode`` and training). Defaults to False.
        pixel_mapping (str): see :func:`map_pixels`. Defaults to
            ``'minus_one_one'`` (VQGAN).
        checkpoint (str, optional): weights file (see module docstring).
        random_init (bool): allow building without ``checkpoint``.
        frozen (bool): the tokenizer contract (eval, no grad). The trainer
            builds with ``frozen=False``. Defaults to True.
        chunk_size (int): max frames per encoder call (0 = all).
    """

    def __init__(self,
                 ch: int = 128,
                 ch_mult: Sequence[int] = (1, 1, 2, 4),
                 num_res_blocks: int = 2,
                 attn_resolutions: Sequence[int] = (),
                 resolution: int = 112,
                 z_channels: int = 256,
                 embed_dim: int = 256,
                 vocab_size: int = 8192,
                 num_groups: int = 32,
                 dropout: float = 0.0,
                 resamp_with_conv: bool = True,
                 beta: float = 0.25,
                 with_decoder: bool = False,
                 pixel_mapping: str = 'minus_one_one',
                 checkpoint: Optional[str] = None,
                 random_init: bool = False,
                 frozen: bool = True,
                 chunk_size: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        check_checkpoint_arg(checkpoint, random_init, 'VQVAETokenizer', _EXPECTED, _SOURCE)
        super().__init__(pixel_mapping, frozen=frozen, chunk_size=chunk_size, init_cfg=init_cfg)
        given = dict(ch=ch, ch_mult=ch_mult, num_res_blocks=num_res_blocks,
                     attn_resolutions=attn_resolutions, dropout=dropout,
                     resamp_with_conv=resamp_with_conv, resolution=resolution,
                     z_channels=z_channels, num_groups=num_groups, embed_dim=embed_dim,
                     vocab_size=vocab_size)
        raw = None
        if checkpoint is not None:
            raw = read_checkpoint_file(checkpoint, _EXPECTED, _SOURCE)
            given = self._arch_from_checkpoint(checkpoint, raw, given)
        z_channels, embed_dim, vocab_size = (given.pop('z_channels'), given.pop('embed_dim'),
                                             given.pop('vocab_size'))
        self.vocab_size = vocab_size
        self.downsample = 2**(len(given['ch_mult']) - 1)
        self.with_decoder = with_decoder
        arch = dict(given, ch_mult=tuple(given['ch_mult']),
                    attn_resolutions=tuple(given['attn_resolutions']), z_channels=z_channels)
        self.encoder = Encoder(in_channels=3, **arch)
        self.quant_conv = nn.Conv2d(z_channels, embed_dim, 1)
        self.quantize = VectorQuantizer(vocab_size, embed_dim, beta)
        if with_decoder:
            self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)
            self.decoder = Decoder(out_channels=3, **arch)
        self.checkpoint = checkpoint
        if checkpoint is not None:
            self.load_checkpoint(checkpoint, raw)
        elif not random_init:
            raise checkpoint_error(None, 'VQVAETokenizer needs weights (checkpoint=None)',
                                   _EXPECTED, _SOURCE)
        self.freeze()

    @staticmethod
    def _arch_from_checkpoint(path: str, raw, given: Dict) -> Dict:
        """The architecture stored by ``tools/train_tokenizer.py``
        (``meta.tokenizer_cfg``) wins over the arguments: a config written for
        another preset takes the file's values, with a warning naming each
        key that changed (``vocab_size`` too: :class:`BEVT` then sets the
        head's ``num_classes`` to it)."""
        meta = raw.get('meta', None) if isinstance(raw, dict) else None
        stored = meta.get('tokenizer_cfg', None) if isinstance(meta, dict) else None
        if not isinstance(stored, dict):
            return given  # e.g. a taming-transformers release: the config says

        def norm(value):
            return tuple(value) if isinstance(value, (list, tuple)) else value

        out, changed = dict(given), []
        for key, value in stored.items():
            if key not in out or norm(out[key]) == norm(value):
                continue
            changed.append(f'{key}={norm(value)!r} (config: {norm(out[key])!r})')
            out[key] = norm(value)
        if changed:
            print_log(f'VQVAETokenizer: the architecture stored in {path} replaces the '
                      f'config\'s: {", ".join(changed)}', logger='current',
                      level=logging.WARNING)
        return out

    def load_checkpoint(self, path: str, raw=None) -> None:
        """Load a VQGAN-layout weights file (see module docstring); ``raw`` is
        the file's content if already read."""
        if raw is None:
            raw = read_checkpoint_file(path, _EXPECTED, _SOURCE)
        try:
            state = extract_state_dict(raw, _PREFIXES)
        except TypeError as err:
            raise checkpoint_error(path, f'Not a tokenizer state dict ({err})', _EXPECTED,
                                   _SOURCE) from err
        own = self.state_dict()
        wanted = {k: v for k, v in state.items() if k in own}
        required = [k for k in own if k.startswith(('encoder.', 'quant_conv.', 'quantize.'))]
        missing = [k for k in required if k not in wanted]
        if missing:
            raise checkpoint_error(
                path, f'Tokenizer checkpoint lacks {len(missing)} encoder/quantizer keys '
                f'(e.g. {missing[:3]})', _EXPECTED, _SOURCE)
        wrong = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                 for k, v in wanted.items() if v.shape != own[k].shape]
        if wrong:
            raise checkpoint_error(
                path, 'Tokenizer checkpoint does not match the configured architecture '
                f'({wrong[:3]}); set ch/ch_mult/z_channels/embed_dim/vocab_size to the '
                "checkpoint's config", _EXPECTED, _SOURCE)
        if self.with_decoder:
            dec_missing = [k for k in own if k.startswith(('decoder.', 'post_quant_conv.'))
                           and k not in wanted]
            if dec_missing:
                raise checkpoint_error(path, 'with_decoder=True but the checkpoint has no '
                                       f'decoder (e.g. {dec_missing[:2]})', _EXPECTED, _SOURCE)
        self.load_state_dict(wanted, strict=False)

    def encode_ids(self, x: Tensor) -> Tensor:
        """Token ids of mapped input."""
        return self.quantize.lookup(self.quant_conv(self.encoder(x)))

    def decode(self, ids: Tensor) -> Tensor:
        """Images of token ids (needs ``with_decoder=True``).

        Args:
            ids (Tensor): int64 ``(N, h, w)``.

        Returns:
            Tensor: uint8 ``(N, 3, h * f, w * f)``.
        """
        if not self.with_decoder:
            raise RuntimeError('VQVAETokenizer.decode needs with_decoder=True')
        with torch.no_grad():
            rec = self.decoder(self.post_quant_conv(self.quantize.embed(ids)))
        return unmap_pixels(rec, self.pixel_mapping)

    def forward_train(self, x: Tensor) -> Dict[str, Tensor]:
        """Training forward: reconstruct ``x`` through the codebook.

        Args:
            x (Tensor): ``(N, 3, h, w)`` uint8 or float in ``[0, 255]``.

        Returns:
            dict: ``loss_rec`` (L1 in the mapped range), ``loss_vq``
            (codebook + commitment), ``rec`` (mapped reconstruction),
            ``ids`` and ``z`` (pre-quantization vectors, for codebook resets).
        """
        if not self.with_decoder:
            raise RuntimeError('training a VQVAETokenizer needs with_decoder=True')
        target = self.map_pixels(x)
        z = self.quant_conv(self.encoder(target))
        z_q, loss_vq, ids = self.quantize(z)
        rec = self.decoder(self.post_quant_conv(z_q))
        return dict(loss_rec=F.l1_loss(rec, target), loss_vq=loss_vq, rec=rec, ids=ids, z=z)
