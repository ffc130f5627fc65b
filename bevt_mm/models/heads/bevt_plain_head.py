"""``BEVTPlainHead``: :class:`BEVTHead` for a plain (non-hierarchical) backbone."""
from typing import Dict, Optional, Sequence, Union

from mmaction.registry import MODELS
from torch import Tensor

from .bevt_head import BEVTHead


@MODELS.register_module()
class BEVTPlainHead(BEVTHead):
    """Token classifier and masked loss of BEVT on a plain ViT backbone.

    A plain backbone (e.g. :class:`BEVTTimeSformer`) already gives its patch
    tokens on the token-target grid: 16x16 patches of a 224 crop form the
    14x14 grid of the tokenizer's 112x112 view, and a temporal patch of 1
    gives one token per frame. So there is no stage-3/stage-4 fusion and no
    temporal deconvolution: the "decoder" is the identity, optionally
    followed by a LayerNorm (``decoder_norm``; off by default, as BEVTTimeSformer's
    tokens are already normalized by its final ``norm``). The shared
    classifier, the masked cross-entropy, the accuracy logging and the loss
    weights are :class:`BEVTHead`'s own code.

    Args:
        in_channels (int): Token channels (``embed_dims`` of the backbone).
        num_classes (int): Codebook size of the tokenizer. Defaults to 8192.
        loss_weights (dict): Weights of ``image`` and ``video`` losses.
            Defaults to ``dict(image=1.0, video=1.0)``.
        decoder_norm (bool): A LayerNorm (shared by both streams) before the
            classifier. Defaults to False.
        norm_cfg (dict): That norm. Defaults to ``dict(type='LN', eps=1e-6)``.
        init_cfg (dict | list[dict], optional): As :class:`BEVTHead`.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int = 8192,
                 loss_weights: Dict[str, float] = dict(image=1.0, video=1.0),
                 decoder_norm: bool = False,
                 norm_cfg: Dict = dict(type='LN', eps=1e-6),
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(in_channels=in_channels, num_classes=num_classes,
                         loss_weights=loss_weights, share_norm=True, norm_cfg=norm_cfg,
                         init_cfg=init_cfg)
        # the tokens are on the target grid already: no decoders
        self.image_decoder = None
        self.video_decoder = None
        self.decoder_norm = decoder_norm
        if not decoder_norm:
            self.norm = None

    def decode(self, stream: str, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Tokens of one stream (after ``decoder_norm`` if set).

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (Tensor | Sequence[Tensor]): Channels-last tokens
                ``(N, h, w, C)`` / ``(N, T, h, w, C)``, or a sequence whose
                last item they are.

        Returns:
            Tensor: Features at the target grid, as given (or normalized).
        """
        x = self._tokens(stream, feats)
        return x if self.norm is None else self.norm(x)

    @staticmethod
    def _tokens(stream: str, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        if stream not in ('image', 'video'):
            raise ValueError(f"stream must be 'image' or 'video', got {stream!r}")
        x = feats if isinstance(feats, Tensor) else feats[-1]
        expected = 4 if stream == 'image' else 5
        if x.dim() != expected:
            raise ValueError(f'{stream} tokens must be {expected}-D channels-last, '
                             f'got {tuple(x.shape)}')
        return x

    def decode_masked(self, stream: str, feats: Union[Tensor, Sequence[Tensor]],
                      mask: Tensor) -> Tensor:
        """:meth:`decode` at the True positions of ``mask`` only, ``(M, C)``.

        Raises:
            ValueError: if the mask's shape is not the token grid.
        """
        x = self._tokens(stream, feats)
        if tuple(x.shape[:-1]) != tuple(mask.shape):
            raise ValueError(f'{stream}: decoder grid {tuple(x.shape[:-1])} and mask '
                             f'{tuple(mask.shape)} differ')
        x = x[mask.bool()]
        return x if self.norm is None else self.norm(x)
