"""TimeSformer (divided space-time attention) with BEVT's image and video
streams (``BEVTTimeSformer``)."""
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

import numpy as np
import torch
from einops import rearrange
from mmaction.models.backbones.timesformer import PatchEmbed, TimeSformer
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from torch import Tensor, nn

from bevt_mm.utils.checkpoint import (bevt_to_mmaction_timesformer, get_state_dict,
                                     is_pretraining_checkpoint)

from .bevt_swin import upsample_mask
from .checked_load import CheckedLoadMixin


@MODELS.register_module()
class BEVTTimeSformer(CheckedLoadMixin, TimeSformer):
    checkpoint_family = 'timesformer'

    """MMAction2's divided space-time TimeSformer with BEVT's two streams.

    A subclass of :class:`mmaction.models.TimeSformer` with its arguments and
    state-dict keys (so the encoder loads into stock TimeSformer recipes),
    plus ``patch_embed_2d`` (the image stream's own 2D patch embedding, a
    stock ``PatchEmbed``) and ``mask_token``. Every other weight is shared.

    Streams:

    * video ``(N, C, T, H, W)`` with ``T == num_frames``: exactly the stock
      forward (patch embedding, cls token, ``pos_embed``, ``time_embed``,
      temporal attention, spatial attention, FFN per layer, final ``norm``).
    * image ``(N, C, H, W)``: ``patch_embed_2d``, cls token, ``pos_embed``,
      then per layer the spatial attention and FFN only. A single frame has no
      position in time and nothing to attend to over time, so the image stream
      adds **no** ``time_embed`` and **skips** the temporal attention step
      (running stock temporal attention on one frame is not an identity: it
      adds ``temporal_fc(out_proj(v(norm(x))))``). ``time_embed`` and the
      temporal attention weights are thus trained by the video stream only.
    * a one-frame clip ``(N, C, 1, H, W)`` follows the same rule, which makes
      the image stream exactly the video stream on a one-frame clip (up to the
      choice of patch embedding).

    Calling conventions:

    * ``forward(x)``: stock output, the normalized cls token ``(N, C')``.
    * ``forward(x, mask)`` / ``forward_pretrain(x, mask=None)``: the
      normalized (final ``norm``) patch tokens on the token grid, channels
      last: videos ``(N, T, Hp, Wp, C')``, images ``(N, Hp, Wp, C')`` (16x16
      patches at 224 give the 14x14 grid of a 112x112 DALL-E view). The final
      norm is the stock ``norm`` that fine-tuning applies before taking the
      cls token, so pretraining trains it and the export keeps it as is.
      ``mask`` (bool, True = masked) is ``(N, Hp, Wp)`` or ``(N, T, Hp, Wp)``
      (a coarser grid is repeated up); masked patch embeddings are replaced
      by ``mask_token`` before the position embeddings are added (BEiT).

    Args:
        num_frames (int): Frames of a video clip (``time_embed`` length).
        img_size (int): Input size.
        patch_size (int): Patch size (16 in the recipes).
        pretrained (str, optional): Checkpoint to initialize from: a BEVT or
            divided space-time TimeSformer checkpoint (keys of this backbone,
            optional ``backbone.`` prefix) is loaded as is; a ViT checkpoint
            in MMAction2's layout (one attention per layer) goes through the
            stock conversion (spatial weights copied to the temporal step).
            Without ``patch_embed_2d`` in the checkpoint the image stream's
            patch embedding copies the video one. Every load (this one,
            ``load_from``, a test checkpoint) is checked: see
            :mod:`.checked_load`. Defaults to None.
        mask_token (bool): Create the learned mask token. Defaults to True.
        image_stream (bool): Create ``patch_embed_2d``. False with
            ``mask_token=False`` is the fine-tuning form
            (:class:`BEVTFinetuneTimeSformer`). Defaults to True.
        drop_path_rate (float, optional): Largest stochastic-depth rate,
            linearly increasing over layers; None keeps the stock 0..0.1.
            Defaults to None.
        **kwargs: Other arguments of :class:`TimeSformer` (``embed_dims``,
            ``num_heads``, ``num_transformer_layers``, ``norm_cfg``...).
            ``attention_type`` must be ``'divided_space_time'``.
    """

    def __init__(self,
                 num_frames: int,
                 img_size: int,
                 patch_size: int,
                 pretrained: Optional[str] = None,
                 mask_token: bool = True,
                 image_stream: bool = True,
                 drop_path_rate: Optional[float] = None,
                 **kwargs) -> None:
        attention_type = kwargs.get('attention_type', 'divided_space_time')
        if attention_type != 'divided_space_time':
            raise ValueError('BEVTTimeSformer supports attention_type='
                             f"'divided_space_time' only, got {attention_type!r}")
        # stock TimeSformer builds its layers from MMAction2's registry
        with DefaultScope.overwrite_default_scope('mmaction'):
            super().__init__(num_frames=num_frames, img_size=img_size, patch_size=patch_size,
                             pretrained=pretrained, **kwargs)
        self.patch_embed_2d = PatchEmbed(
            img_size=img_size, patch_size=patch_size,
            in_channels=self.patch_embed.projection.in_channels,
            embed_dims=self.embed_dims) if image_stream else None
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims)) \
            if mask_token else None
        if drop_path_rate is not None:
            self._set_drop_path(drop_path_rate)

    @property
    def grid(self) -> Tuple[int, int]:
        """Patch grid ``(Hp, Wp)``."""
        return tuple(s // p for s, p in zip(self.patch_embed.img_size,
                                            self.patch_embed.patch_size))

    def _set_drop_path(self, rate: float) -> None:
        layers = self.transformer_layers.layers
        for rate_i, layer in zip(np.linspace(0, rate, len(layers)), layers):
            for module in layer.modules():
                if hasattr(module, 'drop_prob'):
                    module.drop_prob = float(rate_i)

    # ------------------------------------------------------------------ init
    def init_weights(self, pretrained: Optional[str] = None) -> None:
        """Stock init (truncated normal cls token and ``pos_embed``), mask
        token, then ``pretrained`` if given.

        A divided space-time checkpoint (ours, its export or a stock video
        TimeSformer) is loaded as is, a BEVT pretraining checkpoint converted
        as its export into the fine-tuning form; a ViT goes through the stock
        conversion. Each load is checked (:mod:`.checked_load`).

        Args:
            pretrained (str, optional): Overrides ``self.pretrained``.
        """
        if pretrained:
            self.pretrained = pretrained
        if self.mask_token is not None:
            trunc_normal_(self.mask_token, std=.02)
        if not isinstance(self.pretrained, str):
            super().init_weights()
            return
        logger = MMLogger.get_current_instance()
        state_dict = get_state_dict(_load_checkpoint(self.pretrained, map_location='cpu'),
                                    'backbone.')
        with self.loading_from(self.pretrained):
            if any('.attentions.1.' in k for k in state_dict):
                # divided space-time layout: as is (the stock loader would
                # overwrite the spatial attention with the temporal one)
                trunc_normal_(self.pos_embed, std=.02)
                trunc_normal_(self.cls_token, std=.02)
                load_state_dict(self, state_dict, strict=False, logger=logger)
            else:  # ViT layout: the stock conversion
                super().init_weights()
        if self.patch_embed_2d is not None and not any(
                k.startswith('patch_embed_2d.') for k in state_dict):
            self.patch_embed_2d.load_state_dict(self.patch_embed.state_dict())
            logger.info('BEVTTimeSformer: patch_embed_2d initialized from patch_embed')

    def convert_checkpoint(self, state_dict: Dict[str, Tensor]
                           ) -> Tuple[Dict[str, Tensor], str]:
        """A BEVT pretraining backbone loaded into the fine-tuning form ->
        what ``tools/convert/bevt_timesformer_to_mmaction.py`` exports
        (``time_embed`` resized to ``num_frames``); see :mod:`.checked_load`."""
        if self.is_finetuning_form and is_pretraining_checkpoint(state_dict) and all(
                k in state_dict for k in ('time_embed', 'cls_token', 'pos_embed')):
            return (bevt_to_mmaction_timesformer(state_dict, num_frames=self.num_frames),
                    'a BEVT pretraining backbone, converted as '
                    'tools/convert/bevt_timesformer_to_mmaction.py exports it')
        return state_dict, ''

    # --------------------------------------------------------------- forward
    @contextmanager
    def _spatial_frames(self, frames: int) -> Iterator[None]:
        """Let the stock spatial attention modules see ``frames`` frames."""
        spatial = [layer.attentions[1] for layer in self.transformer_layers.layers]
        saved = [m.num_frames for m in spatial]
        for m in spatial:
            m.num_frames = frames
        try:
            yield
        finally:
            for m, n in zip(spatial, saved):
                m.num_frames = n

    def _embed(self, x: Tensor, mask: Optional[Tensor]) -> Tuple[Tensor, int]:
        """Tokens ``(N, 1 + P * T, C)`` in the stock ``(p t)`` order, and T."""
        if x.dim() == 4:
            if self.patch_embed_2d is None:
                raise ValueError('images (N, C, H, W) need the image stream; this backbone '
                                 'was built with image_stream=False')
            x = x.unsqueeze(2)
            embed = self.patch_embed_2d
        elif x.dim() == 5:
            embed = self.patch_embed
        else:
            raise ValueError('expected images (N, C, H, W) or videos (N, C, T, H, W), '
                             f'got {tuple(x.shape)}')
        batches, _, frames, height, width = x.shape
        if (height, width) != tuple(self.patch_embed.img_size):
            raise ValueError(f'input size {(height, width)} differs from img_size '
                             f'{tuple(self.patch_embed.img_size)}')
        if frames not in (1, self.num_frames):
            raise ValueError(f'clips must have num_frames={self.num_frames} frames (or 1), '
                             f'got {frames}')
        x = embed(x)  # (N T) P C
        if mask is not None:
            if self.mask_token is None:
                raise ValueError('a mask was given but the backbone has mask_token=False')
            m = upsample_mask(mask.to(x.device), (frames, *self.grid))
            m = m.reshape(batches * frames, -1, 1)
            x = torch.where(m, self.mask_token.to(x.dtype), x)
        cls_tokens = self.cls_token.expand(x.size(0), -1, -1)
        x = torch.cat((cls_tokens, x), dim=1) + self.pos_embed
        x = self.drop_after_pos(x)
        cls_tokens = x[:batches, 0:1]
        x = x[:, 1:]
        if frames > 1:
            x = rearrange(x, '(b t) p m -> (b p) t m', b=batches) + self.time_embed
            x = self.drop_after_time(x)
            x = rearrange(x, '(b p) t m -> b (p t) m', b=batches)
        return torch.cat((cls_tokens, x), dim=1), frames

    def _encode(self, x: Tensor, mask: Optional[Tensor]) -> Tuple[Tensor, int]:
        """Normalized tokens ``(N, 1 + P * T, C)`` and T."""
        x, frames = self._embed(x, mask)
        if frames > 1:
            x = self.transformer_layers(x, None, None)  # stock layers
        else:  # spatial attention and FFN of each stock layer
            with self._spatial_frames(1):
                for layer in self.transformer_layers.layers:
                    x = layer.ffns[0](layer.attentions[1](x))
        return self.norm(x), frames

    def forward_pretrain(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Patch tokens for the BEVT head.

        Args:
            x (Tensor): Images ``(N, C, H, W)`` or videos ``(N, C, T, H, W)``.
            mask (Tensor, optional): Bool mask, ``(N, h, w)`` or
                ``(N, t, h, w)``; True = replaced by the mask token.

        Returns:
            Tensor: Normalized patch tokens, channels last: ``(N, T, Hp, Wp, C)``
            for videos, ``(N, Hp, Wp, C)`` for images.
        """
        image = x.dim() == 4
        tokens, frames = self._encode(x, mask)
        hp, wp = self.grid
        tokens = tokens[:, 1:].reshape(tokens.shape[0], hp, wp, frames, -1)
        if image:
            return tokens.squeeze(3)
        return tokens.permute(0, 3, 1, 2, 4)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Stock output (``mask=None``) or :meth:`forward_pretrain`.

        Args:
            x (Tensor): Images ``(N, C, H, W)`` or videos ``(N, C, T, H, W)``.
            mask (Tensor, optional): If given, run :meth:`forward_pretrain`.

        Returns:
            Tensor: The normalized cls token ``(N, C)``, or the patch tokens.
        """
        if mask is not None:
            return self.forward_pretrain(x, mask)
        return self._encode(x, None)[0][:, 0]



@MODELS.register_module()
class BEVTFinetuneTimeSformer(BEVTTimeSformer):
    """The BEVT TimeSformer encoder for fine-tuning: a stock ``TimeSformer`` with BEVT's loading.

    :class:`BEVTTimeSformer` with ``image_stream=False`` and
    ``mask_token=False``: the parameters, keys and output of MMAction2's
    divided space-time :class:`TimeSformer`, plus the checked loading of
    :mod:`.checked_load` (a divided space-time file as ``pretrained`` is
    loaded as is instead of having its temporal attention copied over the
    spatial one; a raw BEVT pretraining checkpoint is converted as its export).

    Args:
        **kwargs: Arguments of :class:`BEVTTimeSformer` / :class:`TimeSformer`.
    """

    def __init__(self, *args, image_stream: bool = False, mask_token: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, image_stream=image_stream, mask_token=mask_token, **kwargs)
