"""``MaskedTokenHead``: token classifier and masked loss shared by BEVT's heads."""
from typing import Dict, Optional, Sequence, Union

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

STREAMS = ('image', 'video')
Feats = Union[Tensor, Sequence[Tensor]]


class MaskedTokenHead(BaseModule):
    """Classifier over the tokenizer's codebook and the masked loss of a stream.

    As mmpretrain's ``BEiTV1Head``: a linear classifier and a loss built from
    the registry, evaluated at the masked positions only. Subclasses build
    their layers and then :meth:`build_classifier`, and say how the backbone
    features of a stream become features on the target grid (:meth:`decode`
    on the whole grid, :meth:`decode_masked` at the masked positions only,
    which is what the loss runs).

    Args:
        in_channels (int): Channels of the decoded features.
        num_classes (int): Codebook size of the tokenizer. Defaults to 8192.
        loss (dict): The loss, built from MMAction2's registry; called as
            ``loss(logits (M, num_classes), target (M, ))``. Defaults to
            ``dict(type='CrossEntropyLoss')`` (mean over masked positions).
        loss_weights (dict): Weights of the ``image`` and ``video`` losses;
            a stream left out weighs 1. Defaults to both 1.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to truncated normal (std 0.02) for linear layers and
            ones/zeros for LayerNorms.

    Raises:
        ValueError: ``loss_weights`` names a stream other than image/video.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int = 8192,
                 loss: Dict = dict(type='CrossEntropyLoss'),
                 loss_weights: Dict[str, float] = dict(image=1.0, video=1.0),
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = [
                     dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.),
                     dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
                 ]) -> None:
        super().__init__(init_cfg=init_cfg)
        unknown = set(loss_weights) - set(STREAMS)
        if unknown:
            raise ValueError(f'loss_weights keys must be image/video, got {sorted(unknown)}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.loss_weights = {'image': 1.0, 'video': 1.0, **loss_weights}
        self.loss_module = MODELS.build(loss)

    def build_classifier(self) -> None:
        """Build ``classifier``; subclasses call it after their own layers.

        Layers are then built and registered in the order decoder, norm,
        classifier, as in the authors' model: the same parameter order (and
        so optimizer-state order) and the same draws from a seeded RNG.
        """
        self.classifier = nn.Linear(self.in_channels, self.num_classes)

    @staticmethod
    def check_stream(stream: str) -> None:
        """Check a stream name.

        Args:
            stream (str): The name to check.

        Raises:
            ValueError: ``stream`` is not ``'image'`` or ``'video'``.
        """
        if stream not in STREAMS:
            raise ValueError(f"stream must be 'image' or 'video', got {stream!r}")

    def decode(self, stream: str, feats: Feats) -> Tensor:
        """Features of one stream on the whole target grid.

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (Tensor | Sequence[Tensor]): The backbone's channels-last
                features of that stream (``forward_pretrain``).

        Returns:
            Tensor: ``(N, h, w, C)`` for images, ``(N, T, h, w, C)`` for videos.
        """
        raise NotImplementedError

    def decode_masked(self, stream: str, feats: Feats, mask: Tensor) -> Tensor:
        """:meth:`decode` at the True positions of ``mask`` only.

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (Tensor | Sequence[Tensor]): As :meth:`decode`.
            mask (Tensor): Bool ``(N, h, w)`` / ``(N, T, h, w)`` on the
                target grid.

        Returns:
            Tensor: ``(M, C)``, the masked positions in row-major order;
            equal (allclose) to ``decode(stream, feats)[mask]``.
        """
        raise NotImplementedError

    def forward(self, stream: str, feats: Feats) -> Tensor:
        """Token logits at every position (visualization, tests).

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (Tensor | Sequence[Tensor]): As :meth:`decode`.

        Returns:
            Tensor: ``(N, h, w, num_classes)`` or ``(N, T, h, w, num_classes)``.
        """
        return self.classifier(self.decode(stream, feats))

    def loss(self, stream: str, feats: Feats, target: Tensor, mask: Tensor) -> Dict[str, Tensor]:
        """Weighted masked loss and masked-token accuracy of one stream.

        Only the masked positions are decoded and classified.

        Args:
            stream (str): ``'image'`` or ``'video'``.
            feats (Tensor | Sequence[Tensor]): As :meth:`decode`.
            target (Tensor): Token ids on the target grid, ``(N, h, w)`` or
                ``(N, T, h, w)``.
            mask (Tensor): Bool (or 0/1) of the same shape; True = predicted.

        Returns:
            dict[str, Tensor]: ``loss_{stream}`` (the loss module's value
            times ``loss_weights[stream]``; 0 with the graph kept when nothing
            is masked) and ``acc_{stream}`` (% of masked positions whose
            argmax is the target).

        Raises:
            ValueError: ``target`` and ``mask`` differ in shape.
        """
        if target.shape != mask.shape:
            raise ValueError(f'{stream}: target {tuple(target.shape)} and mask '
                             f'{tuple(mask.shape)} differ')
        mask = mask.bool()
        logits = self.classifier(self.decode_masked(stream, feats, mask))
        labels = target[mask].long()
        if labels.numel() == 0:
            loss = logits.sum() * 0.
            acc = loss.detach()
        else:
            loss = self.loss_module(logits.float(), labels)
            with torch.no_grad():
                acc = (logits.argmax(-1) == labels).float().mean() * 100.
        weight = self.loss_weights[stream]
        return {f'loss_{stream}': loss if weight == 1 else loss * weight, f'acc_{stream}': acc}
