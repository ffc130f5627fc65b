"""``BEVTHead``: BEVT's decoders, decoder norm, token classifier and masked loss."""
from typing import Dict, Optional, Sequence, Tuple, Union

from mmaction.registry import MODELS
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from .bevt_decoders import ImageDecoder, VideoDecoder
from .masked_token_head import MaskedTokenHead


@MODELS.register_module()
class BEVTHead(MaskedTokenHead):
    """Decoders, decoder norm, shared token classifier and masked loss of BEVT.

    Takes the channels-last ``(stage3, stage4)`` features of
    :meth:`BEVTSwinTransformer3D.forward_pretrain` per stream. The image
    decoder upsamples stage 4 2x spatially, concatenates stage 3 and projects
    to ``in_channels``; the video decoder does the same and then upsamples
    ``temporal_scale`` x in time (restoring the tubelet). A LayerNorm follows
    (one shared by both streams when ``share_norm``, as the authors' code),
    then the classifier and loss of :class:`MaskedTokenHead`. In the loss the
    decoders, norm and classifier run at the masked positions only.

    Args:
        in_channels (int): Stage-4 channels (8 x embed_dims for Swin).
        skip_channels (int, optional): Stage-3 channels. Defaults to
            ``in_channels // 2``.
        num_classes (int): Codebook size of the tokenizer. Defaults to 8192.
        temporal_scale (int): Temporal upsampling of the video decoder (the
            temporal patch size). Defaults to 2.
        loss (dict): See :class:`MaskedTokenHead`.
        loss_weights (dict): See :class:`MaskedTokenHead`.
        share_norm (bool): One decoder norm for both streams (``norm``);
            otherwise ``image_norm`` and ``video_norm``. Defaults to True.
        norm_cfg (dict): Decoder norm. Defaults to ``dict(type='LN')``.
        init_cfg (dict | list[dict], optional): See :class:`MaskedTokenHead`.
    """

    def __init__(self,
                 in_channels: int,
                 skip_channels: Optional[int] = None,
                 num_classes: int = 8192,
                 temporal_scale: int = 2,
                 loss: Dict = dict(type='CrossEntropyLoss'),
                 loss_weights: Dict[str, float] = dict(image=1.0, video=1.0),
                 share_norm: bool = True,
                 norm_cfg: Dict = dict(type='LN'),
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(in_channels, num_classes=num_classes, loss=loss,
                         loss_weights=loss_weights, init_cfg=init_cfg)
        skip_channels = skip_channels or in_channels // 2
        self.share_norm = share_norm
        self.image_decoder = ImageDecoder(in_channels, skip_channels)
        self.video_decoder = VideoDecoder(in_channels, skip_channels, temporal_scale)
        if share_norm:
            self.norm = build_norm_layer(norm_cfg, in_channels)[1]
        else:
            self.image_norm = build_norm_layer(norm_cfg, in_channels)[1]
            self.video_norm = build_norm_layer(norm_cfg, in_channels)[1]
        self.build_classifier()

    def _parts(self, stream: str) -> Tuple[nn.Module, nn.Module]:
        """The decoder and the decoder norm of a stream."""
        self.check_stream(stream)
        norm = self.norm if self.share_norm else getattr(self, f'{stream}_norm')
        return getattr(self, f'{stream}_decoder'), norm

    def decode(self, stream: str, feats: Tuple[Tensor, Tensor]) -> Tensor:
        """Decoder and decoder norm of one stream on the whole grid.

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (tuple[Tensor, Tensor]): Stage 3 ``(N, [t,] h, w, C/2)``
                and stage 4 ``(N, [t,] h/2, w/2, C)``, channels last.

        Returns:
            Tensor: ``(N, h, w, C)`` for images, ``(N, t * temporal_scale,
            h, w, C)`` for videos.
        """
        decoder, norm = self._parts(stream)
        return norm(decoder(*feats))

    def decode_masked(self, stream: str, feats: Tuple[Tensor, Tensor], mask: Tensor) -> Tensor:
        """:meth:`decode` at the True positions of ``mask`` only.

        The decoders compute only what those positions depend on (see
        :mod:`.bevt_decoders`).

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (tuple[Tensor, Tensor]): As :meth:`decode`.
            mask (Tensor): Bool ``(N, h, w)`` / ``(N, T, h, w)`` on the
                decoder's output grid.

        Returns:
            Tensor: ``(M, C)``, the masked positions in row-major order.

        Raises:
            ValueError: the mask's shape is not the decoder's output grid.
        """
        decoder, norm = self._parts(stream)
        grid = tuple(feats[0].shape[:-1])
        if stream == 'video':
            grid = (grid[0], grid[1] * decoder.temporal_scale) + grid[2:]
        if tuple(mask.shape) != grid:
            raise ValueError(f'{stream}: decoder grid {grid} and mask {tuple(mask.shape)} differ')
        return norm(decoder(*feats, mask=mask.bool()))
