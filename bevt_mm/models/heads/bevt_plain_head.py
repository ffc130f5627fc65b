"""``BEVTPlainHead``: BEVT's token classifier and masked loss on a plain ViT."""
from typing import Dict, Optional, Sequence, Union

from mmaction.registry import MODELS
from mmcv.cnn import build_norm_layer
from torch import Tensor

from .masked_token_head import Feats, MaskedTokenHead


@MODELS.register_module()
class BEVTPlainHead(MaskedTokenHead):
    """Token classifier and masked loss of BEVT on a plain ViT backbone.

    A plain backbone (e.g. :class:`BEVTTimeSformer`) gives its patch tokens
    on the token-target grid already: 16x16 patches of a 224 crop form the
    14x14 grid of the tokenizer's 112x112 view, and a temporal patch of 1
    gives one token per frame. So there is no decoder: the tokens go to the
    classifier of :class:`MaskedTokenHead` as they are, or through a
    LayerNorm shared by both streams (``decoder_norm``; off by default, as
    BEVTTimeSformer's tokens are normalized by its final ``norm`` already).

    Args:
        in_channels (int): Token channels (``embed_dims`` of the backbone).
        num_classes (int): Codebook size of the tokenizer. Defaults to 8192.
        loss (dict): See :class:`MaskedTokenHead`.
        loss_weights (dict): See :class:`MaskedTokenHead`.
        decoder_norm (bool): A LayerNorm (``norm``) before the classifier.
            Defaults to False.
        norm_cfg (dict): That norm. Defaults to ``dict(type='LN', eps=1e-6)``.
        init_cfg (dict | list[dict], optional): See :class:`MaskedTokenHead`.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int = 8192,
                 loss: Dict = dict(type='CrossEntropyLoss'),
                 loss_weights: Dict[str, float] = dict(image=1.0, video=1.0),
                 decoder_norm: bool = False,
                 norm_cfg: Dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(in_channels, num_classes=num_classes, loss=loss,
                         loss_weights=loss_weights, init_cfg=init_cfg)
        self.decoder_norm = decoder_norm
        self.norm = build_norm_layer(norm_cfg, in_channels)[1] if decoder_norm else None
        self.build_classifier()

    def tokens(self, stream: str, feats: Feats) -> Tensor:
        """The channels-last tokens of a stream.

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (Tensor | Sequence[Tensor]): ``(N, h, w, C)`` /
                ``(N, T, h, w, C)``, or a sequence whose last item they are.

        Returns:
            Tensor: The tokens.

        Raises:
            ValueError: they are not 4-D (image) / 5-D (video).
        """
        self.check_stream(stream)
        x = feats if isinstance(feats, Tensor) else feats[-1]
        expected = 4 if stream == 'image' else 5
        if x.dim() != expected:
            raise ValueError(f'{stream} tokens must be {expected}-D channels-last, '
                             f'got {tuple(x.shape)}')
        return x

    def decode(self, stream: str, feats: Feats) -> Tensor:
        """The tokens (after ``norm`` if ``decoder_norm``), ``(N, [T,] h, w, C)``."""
        x = self.tokens(stream, feats)
        return x if self.norm is None else self.norm(x)

    def decode_masked(self, stream: str, feats: Feats, mask: Tensor) -> Tensor:
        """:meth:`decode` at the True positions of ``mask`` only, ``(M, C)``.

        Raises:
            ValueError: the mask's shape is not the token grid.
        """
        x = self.tokens(stream, feats)
        if tuple(x.shape[:-1]) != tuple(mask.shape):
            raise ValueError(f'{stream}: token grid {tuple(x.shape[:-1])} and mask '
                             f'{tuple(mask.shape)} differ')
        x = x[mask.bool()]
        return x if self.norm is None else self.norm(x)
