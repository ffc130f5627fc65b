"""Video Swin with BEVT's image and video streams (``BEVTSwinTransformer3D``)."""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmaction.models.backbones.swin import (BasicLayer, SwinTransformer3D,
                                            compute_mask, get_window_size)
from mmaction.registry import MODELS
from mmcv.cnn import build_norm_layer
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from torch import Tensor, nn

from bevt_mm.utils.checkpoint import (bevt_to_mmaction_swin, decoder_norm, get_state_dict,
                                     image_to_joint, is_pretraining_checkpoint,
                                     resize_relative_table, select_prefix, swin2d_to_bevt,
                                     table_window)

from .checked_load import CheckedLoadMixin
from .swin_attention import (RELATIVE_BIAS_LOOKUPS, BEVTSwinBlock3D,
                             BEVTWindowAttention3D)


class PatchEmbed2D(BaseModule):
    """Image to patch embedding of the image stream (conv + optional norm).

    Args:
        patch_size (Sequence[int]): Spatial patch size ``(ph, pw)``.
        in_channels (int): Input channels. Defaults to 3.
        embed_dims (int): Output channels. Defaults to 96.
        norm_cfg (dict, optional): Norm after the projection. Defaults to None.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 patch_size: Sequence[int] = (4, 4),
                 in_channels: int = 3,
                 embed_dims: int = 96,
                 norm_cfg: Optional[Dict] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.patch_size = tuple(patch_size)
        self.embed_dims = embed_dims
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=self.patch_size,
                              stride=self.patch_size)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1] if norm_cfg else None

    def forward(self, x: Tensor) -> Tensor:
        """Embed ``(B, C, H, W)`` images into ``(B, embed_dims, Hp, Wp)``."""
        H, W = x.shape[-2:]
        ph, pw = self.patch_size
        if H % ph or W % pw:
            x = nn.functional.pad(x, (0, (pw - W % pw) % pw, 0, (ph - H % ph) % ph))
        x = self.proj(x)
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x


def upsample_mask(mask: Tensor, grid: Sequence[int]) -> Tensor:
    """Repeat a token-grid mask up to the patch grid.

    Args:
        mask (Tensor): Bool mask ``(B, h, w)`` (image) or ``(B, t, h, w)``.
        grid (Sequence[int]): Patch grid ``(D, H, W)``.

    Returns:
        Tensor: Bool mask of shape ``(B, D, H, W)``.
    """
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    if mask.dim() != 4:
        raise ValueError(f'mask must be (B, h, w) or (B, t, h, w), got {tuple(mask.shape)}')
    mask = mask.bool()
    for dim, size in zip((1, 2, 3), grid):
        if size % mask.shape[dim]:
            raise ValueError(f'mask grid {tuple(mask.shape[1:])} does not divide the '
                             f'patch grid {tuple(grid)}')
        if size != mask.shape[dim]:
            mask = mask.repeat_interleave(size // mask.shape[dim], dim=dim)
    return mask


@MODELS.register_module()
class BEVTSwinTransformer3D(CheckedLoadMixin, SwinTransformer3D):
    """Video Swin Transformer with BEVT's image and video streams.

    Subclass of MMAction2's :class:`SwinTransformer3D` with the same arches,
    arguments and state-dict keys, plus ``patch_embed_2d`` (image stream) and
    ``mask_token``. The image stream is the video stream with one temporal
    position: images ``(N, C, H, W)`` go through ``patch_embed_2d`` and the
    same layers, so 2D windows and the slice of the 3D relative position table
    at temporal distance 0 follow from the 3D code (every other weight shared).

    Calling conventions:

    * ``forward(x)``: a plain MMAction2 backbone (fine-tuning). Videos
      ``(N, C, T, H, W)`` give ``(N, C', T', H', W')`` after ``norm{i}`` as
      stock; images give ``(N, C', H', W')``.
    * ``forward(x, mask)`` / ``forward_pretrain(x, mask=None)``: the
      pretraining path. Returns the un-normalized features of the last two
      stages, channels last: ``(stage3, stage4)`` with stage 3 taken before
      its patch merging; videos ``(N, T', H, W, C)``, images ``(N, H, W, C)``.
      ``mask`` (bool, True = masked) is given on the token-target grid,
      ``(N, 14, 14)`` for images and ``(N, T', 14, 14)`` for videos, and is
      repeated up to the patch grid; masked patch embeddings are replaced by
      ``mask_token``.

    Attention runs through ``scaled_dot_product_attention``
    (``fused_attention=True``) or the explicit form (False); see
    :mod:`.swin_attention`. ``relative_position_index`` buffers are not saved
    in checkpoints (they are constants; the fine-tuning export adds them).

    Args:
        arch (str | dict): As :class:`SwinTransformer3D`.
        pretrained (str, optional): Checkpoint to initialize from. With
            ``pretrained2d=True`` a 2D checkpoint (an original or mmpretrain
            Swin, or a BEVT image-stream checkpoint) whose patch weights go to
            ``patch_embed_2d`` and are inflated to 3D, and whose relative
            tables are (resized and) repeated over temporal offsets; a 3D one
            is loaded as 3D with a warning. Otherwise it is loaded as is (keys
            of this backbone, optional ``backbone.`` prefix; a BEVT
            pretraining checkpoint converted as its export), with relative
            position tables of another window resized to ``window_size`` (see
            ``pretrained_window_size``). Every load (this one, ``load_from``,
            a test checkpoint) is checked: see :mod:`.checked_load`.
            Defaults to None.
        pretrained2d (bool): See ``pretrained``. Defaults to False.
        pretrained_window_size (Sequence[int], optional): Window of the 3D
            ``pretrained`` checkpoint (the authors' fine-tuning option of the
            same name). Its relative position tables are resized trilinearly
            to ``window_size`` as ``tools/convert/bevt_to_mmaction_swin.py
            --window-size`` does (e.g. 8x7x7 -> 16x7x7 for SSv2). None reads
            it from the table length (trying the spatial window of
            ``window_size`` first). Defaults to None.
        patch_size (Sequence[int]): 3D patch size; the 2D one is its last two
            entries. Defaults to ``(2, 4, 4)``.
        window_size (Sequence[int]): Window size. Defaults to ``(8, 7, 7)``.
        mask_token (bool): Create the learned mask token. Defaults to True.
        image_stream (bool): Create ``patch_embed_2d`` (the image stream).
            False with ``mask_token=False`` is the fine-tuning form
            (:class:`BEVTFinetuneSwinTransformer3D`): the parameters of stock
            :class:`SwinTransformer3D`, all of them trained. Defaults to True.
        final_norm (bool): Keep ``norm{i}`` of ``out_indices`` (used by the
            fine-tuning path only). Pretraining configs set False so that every
            parameter gets a gradient; the export takes ``norm3`` from the
            decoder norm. Defaults to True.
        fused_attention (bool): SDPA attention. Defaults to True.
        image_shift_mode (str): ``'swin'`` (default) or ``'authors'``: the
            latter reproduces the authors' BEVT image stream, which adds the
            shifted-window mask in unshifted blocks and shifts windows that
            cover the whole map. Only for continuing from their checkpoints.
        relative_bias_lookup (str): Relative bias of a window shrunk to a
            feature map smaller than ``window_size`` (e.g. 160 px or 64 px
            frames with window 7): ``'mmaction'`` (default) takes the first
            rows of the full window's index as stock MMAction2 and the
            authors' code do, so this backbone computes what a stock recipe
            computes at every input size; ``'true_offsets'`` (opt-in) takes
            the bias of each pair's real offset. Both agree wherever only the
            temporal window shrinks (e.g. the image stream). See
            :mod:`.swin_attention`.
        **kwargs: Other arguments of :class:`SwinTransformer3D` (``with_cp``,
            ``drop_path_rate``, ``out_indices``, ``frozen_stages``, ...).
    """

    def __init__(self,
                 arch: Union[str, Dict],
                 pretrained: Optional[str] = None,
                 pretrained2d: bool = False,
                 pretrained_window_size: Optional[Sequence[int]] = None,
                 patch_size: Sequence[int] = (2, 4, 4),
                 in_channels: int = 3,
                 window_size: Sequence[int] = (8, 7, 7),
                 norm_cfg: Dict = dict(type='LN'),
                 patch_norm: bool = True,
                 mask_token: bool = True,
                 image_stream: bool = True,
                 final_norm: bool = True,
                 fused_attention: bool = True,
                 image_shift_mode: str = 'swin',
                 relative_bias_lookup: str = 'mmaction',
                 init_cfg: Optional[Union[Dict, List[Dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ],
                 **kwargs) -> None:
        if image_shift_mode not in ('swin', 'authors'):
            raise ValueError(f"image_shift_mode must be 'swin' or 'authors', "
                             f'got {image_shift_mode!r}')
        if relative_bias_lookup not in RELATIVE_BIAS_LOOKUPS:
            raise ValueError(f'relative_bias_lookup must be one of {RELATIVE_BIAS_LOOKUPS}, '
                             f'got {relative_bias_lookup!r}')
        patch_size = tuple(patch_size)
        window_size = tuple(window_size)
        super().__init__(arch=arch, pretrained=pretrained, pretrained2d=pretrained2d,
                         patch_size=patch_size, in_channels=in_channels,
                         window_size=window_size, norm_cfg=norm_cfg,
                         patch_norm=patch_norm, init_cfg=init_cfg, **kwargs)
        self.image_shift_mode = image_shift_mode
        self.pretrained_window_size = (tuple(pretrained_window_size)
                                       if pretrained_window_size else None)
        self.patch_embed_2d = PatchEmbed2D(
            patch_size=patch_size[1:], in_channels=in_channels,
            embed_dims=self.embed_dims, norm_cfg=norm_cfg if patch_norm else None
        ) if image_stream else None
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims)) \
            if mask_token else None
        if not final_norm:
            for i in self.out_indices:
                setattr(self, f'norm{i}', nn.Identity())
        self._use_bevt_blocks(fused_attention, relative_bias_lookup)

    def _use_bevt_blocks(self, fused: bool, lookup: str) -> None:
        """Give the blocks built by MMAction2 the BEVT forward.

        The subclasses add no parameters, so the blocks keep their weights and
        keys; only ``forward`` changes (shrunk-window bias lookup, SDPA,
        opt-in authors' image shift). ``relative_position_index`` becomes
        non-persistent.
        """
        for layer in self.layers:
            for block in layer.blocks:
                block.__class__ = BEVTSwinBlock3D
                block.stage_shift = tuple(layer.shift_size)
                attn = block.attn
                attn.__class__ = BEVTWindowAttention3D
                attn.fused = fused
                attn.lookup = lookup
                attn._index_cache = {}
                attn.register_buffer('relative_position_index',
                                     attn.relative_position_index, persistent=False)

    @property
    def fused_attention(self) -> bool:
        """Whether the window attention uses SDPA."""
        return self.layers[0].blocks[0].attn.fused

    @fused_attention.setter
    def fused_attention(self, value: bool) -> None:
        for layer in self.layers:
            for block in layer.blocks:
                block.attn.fused = bool(value)

    def train(self, mode: bool = True) -> 'BEVTSwinTransformer3D':
        """As the stock ``train`` (frozen stages stay frozen); returns the module, as
        ``nn.Module.train`` does, so ``backbone.eval()`` chains."""
        super().train(mode)
        return self

    # ------------------------------------------------------------------ init
    def init_weights(self) -> None:
        """Initialize: default init, then ``pretrained`` if given.

        With ``pretrained2d=True`` a 2D checkpoint is inflated
        (:meth:`inflate_weights`); a video (3D) checkpoint, such as the
        export or, for the fine-tuning form, a pretraining checkpoint, is
        loaded as 3D with a warning (stock Swin fails with ``KeyError:
        'model'``). A BEVT pretraining checkpoint given to the fine-tuning
        form is converted exactly as ``tools/convert/bevt_to_mmaction_swin.py``
        exports it (decoder norm as ``norm3``, tables resized to
        ``window_size``).
        """
        BaseModule.init_weights(self)
        if self.mask_token is not None:
            trunc_normal_(self.mask_token, std=.02)
        if not self.pretrained:
            return
        logger = MMLogger.get_current_instance()
        checkpoint = _load_checkpoint(self.pretrained, map_location='cpu')
        state_dict = get_state_dict(checkpoint)
        if self.pretrained2d and not self._is_video_checkpoint(state_dict):
            state_dict = image_to_joint(swin2d_to_bevt(checkpoint),
                                        window_size=self.window_size, patch_size=self.patch_size)
        else:
            if self.pretrained2d:
                warnings.warn(f'model.backbone.pretrained={self.pretrained!r} holds video (3D) '
                              'Swin weights: loaded as such, as with pretrained2d=False '
                              '(pretrained2d=True inflates a 2D ImageNet Swin).')
            state_dict = self._export_pretraining(state_dict, logger)
        with self.loading_from(str(self.pretrained)):
            load_state_dict(self, state_dict, strict=False, logger=logger)

    def _is_video_checkpoint(self, state_dict: Dict[str, Tensor]) -> bool:
        """A 3D patch embedding, and no 2D one to inflate (the fine-tuning form,
        which has no image stream, takes the 3D one whenever there is one)."""
        backbone = get_state_dict(state_dict, 'backbone.')
        weight = backbone.get('patch_embed.proj.weight')
        return (weight is not None and weight.dim() == 5
                and (self.is_finetuning_form or 'patch_embed_2d.proj.weight' not in backbone))

    def _source_window(self, rows: int) -> Tuple[int, int, int]:
        """Window of a checkpoint table with ``rows`` rows (``pretrained_window_size``
        if set, else read from ``rows`` trying this backbone's spatial window)."""
        return self.pretrained_window_size or table_window(
            rows, self.window_size[1:], flag='model.backbone.pretrained_window_size')

    def _export_pretraining(self, state_dict: Dict[str, Tensor],
                            logger: MMLogger) -> Dict[str, Tensor]:
        """A whole BEVT pretraining checkpoint (with its head) for the fine-tuning
        form -> what the export writes; anything else -> its backbone keys."""
        norm = decoder_norm(select_prefix(state_dict, 'head.'))
        if not (self.is_finetuning_form and is_pretraining_checkpoint(state_dict)
                and norm is not None and 'backbone.layers.0.blocks.0.norm1.weight' in state_dict):
            return get_state_dict(state_dict, 'backbone.')
        tables = [v for k, v in state_dict.items() if k.endswith('relative_position_bias_table')
                  and k.startswith('backbone.')]
        window = self._source_window(tables[0].shape[0]) if tables else self.window_size
        logger.info(f'{self.pretrained}: a BEVT pretraining checkpoint, converted as '
                    'tools/convert/bevt_to_mmaction_swin.py exports it (decoder norm as norm3)')
        return bevt_to_mmaction_swin(state_dict, window_size=window,
                                     new_window_size=self.window_size)

    def inflate_weights(self, logger: MMLogger) -> None:
        """Load a 2D checkpoint (``self.pretrained``) into both streams.

        Accepts an original Swin, an mmpretrain Swin or a BEVT image-stream
        checkpoint; see :func:`bevt_mm.utils.checkpoint.image_to_joint`.

        Args:
            logger (MMLogger): Logger for the load report.
        """
        state_dict = image_to_joint(
            swin2d_to_bevt(_load_checkpoint(self.pretrained, map_location='cpu')),
            window_size=self.window_size, patch_size=self.patch_size)
        with self.loading_from(str(self.pretrained)):
            load_state_dict(self, state_dict, strict=False, logger=logger)

    def convert_checkpoint(self, state_dict: Dict[str, Tensor]
                           ) -> Tuple[Dict[str, Tensor], str]:
        """Convert the backbone keys of a load (see :mod:`.checked_load`).

        ``relative_position_index`` (a non-persistent constant here) is
        dropped; a BEVT pretraining backbone loaded into the fine-tuning form
        is converted as the export converts it, with this backbone's own
        ``norm3`` kept (the export's ``norm3`` is the decoder norm, outside
        the backbone's keys; ``pretrained=`` passes it); relative tables of
        another window are resized to ``window_size``.
        """
        notes = []
        state_dict = {k: v for k, v in state_dict.items()
                      if not k.endswith('relative_position_index')}
        if (self.is_finetuning_form and is_pretraining_checkpoint(state_dict)
                and any(k.startswith('layers.') for k in state_dict)):
            last = f'norm{self.num_layers - 1}.'
            own_norm = last + 'weight' in state_dict
            converted = bevt_to_mmaction_swin(state_dict, norm3='backbone' if own_norm else 'fresh',
                                              new_window_size=self.window_size)
            state_dict = {k: v for k, v in converted.items()
                          if not k.endswith('relative_position_index')
                          and (own_norm or not k.startswith(last))}
            notes.append('a BEVT pretraining backbone, converted as '
                         'tools/convert/bevt_to_mmaction_swin.py exports it'
                         + ('' if own_norm else
                            f'; {last[:-1]} left at its init: the export takes it from the '
                            'decoder norm, outside the backbone keys of a load into the whole '
                            'model (give the file as model.backbone.pretrained= or export it)'))
        state_dict, resized = self._resize_tables(state_dict)
        if resized:
            notes.append(resized)
        return state_dict, '; '.join(notes)

    def _resize_tables(self, state_dict: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], str]:
        """Resize relative tables of another window to ``window_size``."""
        own = self.state_dict()
        keys = [k for k, v in state_dict.items()
                if k.endswith('relative_position_bias_table') and k in own
                and own[k].shape != v.shape and own[k].shape[1] == v.shape[1]]
        try:
            windows = {self._source_window(state_dict[k].shape[0]) for k in keys}
        except ValueError:
            return state_dict, ''  # not a table of this arch: the load reports the mismatch
        if len(windows) != 1:
            return state_dict, ''
        src = windows.pop()
        state_dict = dict(state_dict)
        for k in keys:
            state_dict[k] = resize_relative_table(state_dict[k], src, self.window_size)
        return state_dict, (f'resized {len(keys)} relative position tables from window {src} '
                            f'to {tuple(self.window_size)}')

    # --------------------------------------------------------------- forward
    def _embed(self, x: Tensor, mask: Optional[Tensor]) -> Tensor:
        """Patch-embed images or videos (channels last), apply the mask token."""
        if x.dim() == 4:
            if self.patch_embed_2d is None:
                raise ValueError('images (N, C, H, W) need the image stream; this backbone '
                                 'was built with image_stream=False')
            x = self.patch_embed_2d(x).unsqueeze(2)
        elif x.dim() == 5:
            x = self.patch_embed(x)
        else:
            raise ValueError(f'expected images (N, C, H, W) or videos (N, C, T, H, W), '
                             f'got {tuple(x.shape)}')
        x = x.permute(0, 2, 3, 4, 1)  # N D H W C
        if mask is not None:
            if self.mask_token is None:
                raise ValueError('a mask was given but the backbone has mask_token=False')
            w = upsample_mask(mask.to(x.device), x.shape[1:4]).unsqueeze(-1)
            x = torch.where(w, self.mask_token.to(x.dtype), x)
        return self.pos_drop(x)

    def _stage(self, layer: BasicLayer, x: Tensor, shift_mode: str) -> Tensor:
        """Run the blocks of one stage on ``(N, D, H, W, C)`` features."""
        _, D, H, W, _ = x.shape
        window_size, shift_size = get_window_size((D, H, W), layer.window_size,
                                                  layer.shift_size)
        padded = [-(-n // w) * w for n, w in zip((D, H, W), window_size)]
        attn_mask = compute_mask(*padded, tuple(window_size), tuple(shift_size), x.device)
        for block in layer.blocks:
            x = block(x, attn_mask, shift_mode=shift_mode)
        return x

    def forward_pretrain(self, x: Tensor, mask: Optional[Tensor] = None
                         ) -> Tuple[Tensor, Tensor]:
        """Features for the BEVT decoders.

        Args:
            x (Tensor): Images ``(N, C, H, W)`` or videos ``(N, C, T, H, W)``.
            mask (Tensor, optional): Bool mask on the token grid, ``(N, h, w)``
                or ``(N, t, h, w)``; True = replaced by the mask token.

        Returns:
            tuple[Tensor, Tensor]: Un-normalized stage-3 (before merging) and
            stage-4 features, channels last: ``(N, T', H, W, C)`` for videos,
            ``(N, H, W, C)`` for images.
        """
        image = x.dim() == 4
        shift_mode = self.image_shift_mode if image else 'swin'
        x = self._embed(x, mask)
        stage3 = x
        for i, layer in enumerate(self.layers):
            x = self._stage(layer, x, shift_mode)
            if i == self.num_layers - 2:
                stage3 = x
            if layer.downsample is not None:
                x = layer.downsample(x)
        if image:
            return stage3.squeeze(1), x.squeeze(1)
        return stage3, x

    def forward(self, x: Tensor, mask: Optional[Tensor] = None
                ) -> Union[Tensor, Tuple[Tensor, ...]]:
        """Fine-tuning output (``mask=None``) or pretraining features.

        Args:
            x (Tensor): Images ``(N, C, H, W)`` or videos ``(N, C, T, H, W)``.
            mask (Tensor, optional): If given, run :meth:`forward_pretrain`.

        Returns:
            Tensor | tuple: As :class:`SwinTransformer3D` (images without the
            temporal axis), or :meth:`forward_pretrain`'s pair.
        """
        if mask is not None:
            return self.forward_pretrain(x, mask)
        image = x.dim() == 4
        shift_mode = self.image_shift_mode if image else 'swin'
        x = self._embed(x, None)
        outs = []
        for i, layer in enumerate(self.layers):
            x = self._stage(layer, x, shift_mode)
            if self.out_after_downsample and layer.downsample is not None:
                x = layer.downsample(x)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(x).permute(0, 4, 1, 2, 3).contiguous()
                outs.append(out.squeeze(2) if image else out)
            if not self.out_after_downsample and layer.downsample is not None:
                x = layer.downsample(x)
        return outs[0] if len(outs) == 1 else tuple(outs)


@MODELS.register_module()
class BEVTFinetuneSwinTransformer3D(BEVTSwinTransformer3D):
    """The BEVT Swin encoder for fine-tuning: a stock ``SwinTransformer3D`` with BEVT's loading.

    :class:`BEVTSwinTransformer3D` with ``image_stream=False`` and
    ``mask_token=False``: the parameters, state-dict keys and outputs of
    MMAction2's :class:`SwinTransformer3D` (same arguments), so a stock Swin
    recipe uses it by changing ``model.backbone.type`` (and
    ``custom_imports = dict(imports=['bevt_mm'])``). What it adds is the
    loading (:mod:`.checked_load`): the export or a raw BEVT pretraining
    checkpoint as ``pretrained`` (also with the stock recipes'
    ``pretrained2d=True``), and an error instead of a warning when a
    checkpoint matches fewer than half of its tensors.

    Args:
        **kwargs: Arguments of :class:`BEVTSwinTransformer3D` /
            :class:`SwinTransformer3D`.
    """

    def __init__(self, *args, image_stream: bool = False, mask_token: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, image_stream=image_stream, mask_token=mask_token, **kwargs)
