"""``BEVTHead``: both decoders, the decoder norm, the shared token classifier
and the masked cross-entropy of each stream."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn

from .bevt_decoders import ImageDecoder, VideoDecoder

Features = Tuple[Tensor, Tensor]


@MODELS.register_module()
class BEVTHead(BaseModule):
    """Decoders, shared token classifier and masked loss of BEVT.

    Takes the channels-last ``(stage3, stage4)`` features of
    :meth:`BEVTSwinTransformer3D.forward_pretrain` per stream. The image
    decoder upsamples stage 4 2x spatially, concatenates stage 3 and projects
    to ``in_channels``; the video decoder does the same and then upsamples 2x
    in time (restoring the tubelet). One LayerNorm follows each decoder (one
    shared by both streams, as the authors' code, when ``share_norm``), then
    the shared linear classifier over the tokenizer's codebook. Losses use
    masked positions only, and the decoders, norm and classifier only run there.

    Args:
        in_channels (int): Stage-4 channels (8 x embed_dims for Swin).
        skip_channels (int, optional): Stage-3 channels. Defaults to
            ``in_channels // 2``.
        num_classes (int): Codebook size of the tokenizer. Defaults to 8192.
        temporal_scale (int): Temporal upsampling of the video decoder (the
            temporal patch size). Defaults to 2.
        loss_weights (dict): Weights of ``image`` and ``video`` losses.
            Defaults to ``dict(image=1.0, video=1.0)``.
        share_norm (bool): One decoder norm for both streams (``norm``);
            otherwise ``image_norm`` and ``video_norm``. Defaults to True.
        norm_cfg (dict): Decoder norm. Defaults to ``dict(type='LN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to truncated normal (std 0.02) for linear layers.
    """

    def __init__(self,
                 in_channels: int,
                 skip_channels: Optional[int] = None,
                 num_classes: int = 8192,
                 temporal_scale: int = 2,
                 loss_weights: Dict[str, float] = dict(image=1.0, video=1.0),
                 share_norm: bool = True,
                 norm_cfg: Dict = dict(type='LN'),
                 init_cfg: Optional[Dict] = [
                     dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        unknown = set(loss_weights) - {'image', 'video'}
        if unknown:
            raise ValueError(f'loss_weights keys must be image/video, got {sorted(unknown)}')
        skip_channels = skip_channels or in_channels // 2
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.loss_weights = {'image': 1.0, 'video': 1.0, **loss_weights}
        self.share_norm = share_norm
        self.image_decoder = ImageDecoder(in_channels, skip_channels)
        self.video_decoder = VideoDecoder(in_channels, skip_channels, temporal_scale)
        if share_norm:
            self.norm = build_norm_layer(norm_cfg, in_channels)[1]
        else:
            self.image_norm = build_norm_layer(norm_cfg, in_channels)[1]
            self.video_norm = build_norm_layer(norm_cfg, in_channels)[1]
        self.classifier = nn.Linear(in_channels, num_classes)

    def _norm(self, stream: str) -> nn.Module:
        return self.norm if self.share_norm else getattr(self, f'{stream}_norm')

    def decode(self, stream: str, feats: Features) -> Tensor:
        """Decoder and decoder norm of one stream.

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (tuple[Tensor, Tensor]): Channels-last stage-3/stage-4
                features from the backbone.

        Returns:
            Tensor: Normalized features at the target grid, ``(N, h, w, C)``
            for images and ``(N, T, h, w, C)`` for videos.
        """
        if stream not in ('image', 'video'):
            raise ValueError(f"stream must be 'image' or 'video', got {stream!r}")
        decoder = self.image_decoder if stream == 'image' else self.video_decoder
        return self._norm(stream)(decoder(*feats))

    def decode_masked(self, stream: str, feats: Features, mask: Tensor) -> Tensor:
        """:meth:`decode` at the True positions of ``mask`` only.

        The decoders compute only what those positions depend on (see
        :mod:`.bevt_decoders`); equal (allclose) to ``decode(...)[mask]``.

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (tuple[Tensor, Tensor]): Channels-last stage-3/stage-4
                features from the backbone.
            mask (Tensor): Bool ``(N, h, w)`` / ``(N, T, h, w)`` at the
                target grid.

        Returns:
            Tensor: ``(M, C)``, the masked positions in row-major order.

        Raises:
            ValueError: if the mask's shape is not the decoder's target grid.
        """
        if stream not in ('image', 'video'):
            raise ValueError(f"stream must be 'image' or 'video', got {stream!r}")
        stage3 = feats[0]
        grid = tuple(stage3.shape[:-1])
        if stream == 'video':
            grid = (grid[0], grid[1] * self.video_decoder.temporal_scale) + grid[2:]
        if tuple(mask.shape) != grid:
            raise ValueError(f'{stream}: decoder grid {grid} and mask {tuple(mask.shape)} differ')
        decoder = self.image_decoder if stream == 'image' else self.video_decoder
        return self._norm(stream)(decoder(*feats, mask=mask.bool()))

    def forward(self, stream: str, feats: Features) -> Tensor:
        """Token logits at every position (visualization, tests).

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (tuple[Tensor, Tensor]): Backbone features of that stream.

        Returns:
            Tensor: Logits ``(N, h, w, num_classes)`` or
            ``(N, T, h, w, num_classes)``.
        """
        return self.classifier(self.decode(stream, feats))

    def stream_loss(self, stream: str, feats: Features, target: Tensor,
                    mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Masked cross-entropy and masked-token accuracy of one stream.

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (tuple[Tensor, Tensor]): Backbone features of that stream.
            target (Tensor): Token ids at the target grid, ``(N, h, w)`` or
                ``(N, T, h, w)``.
            mask (Tensor): Bool target mask of the same shape (True = masked).

        Returns:
            tuple[Tensor, Tensor]: Mean cross-entropy over masked positions
            (unweighted) and the accuracy there (in %).
        """
        if target.shape != mask.shape:
            raise ValueError(f'{stream}: target {tuple(target.shape)} and mask '
                             f'{tuple(mask.shape)} differ')
        mask = mask.bool()
        # decoders, norm and classifier only at masked positions
        logits = self.classifier(self.decode_masked(stream, feats, mask))
        labels = target[mask].long()
        if labels.numel() == 0:  # nothing masked: a zero loss that keeps the graph
            zero = logits.sum() * 0.
            return zero, zero.detach()
        loss = F.cross_entropy(logits.float(), labels)
        with torch.no_grad():
            acc = (logits.argmax(-1) == labels).float().mean() * 100.
        return loss, acc

    def loss(self,
             image_feats: Optional[Features] = None,
             image_target: Optional[Tensor] = None,
             image_mask: Optional[Tensor] = None,
             video_feats: Optional[Features] = None,
             video_target: Optional[Tensor] = None,
             video_mask: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Weighted losses of the streams that are given.

        Returns:
            dict[str, Tensor]: ``loss_image`` / ``loss_video`` (weighted by
            ``loss_weights``) and ``acc_image`` / ``acc_video`` for the
            streams present.
        """
        losses: Dict[str, Tensor] = {}
        for stream, feats, target, mask in (
                ('image', image_feats, image_target, image_mask),
                ('video', video_feats, video_target, video_mask)):
            if feats is None:
                continue
            loss, acc = self.stream_loss(stream, feats, target, mask)
            losses[f'loss_{stream}'] = loss * self.loss_weights[stream]
            losses[f'acc_{stream}'] = acc
        return losses
