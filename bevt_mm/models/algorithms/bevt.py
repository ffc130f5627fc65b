"""``BEVT``: masked image and video modeling with one backbone."""
import logging
from typing import Dict, List, Optional, Set, Union

import torch
from mmaction.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor, nn

Stream = Dict[str, Union[Tensor, List, None]]


@MODELS.register_module()
class BEVT(BaseModel):
    """BEVT pretraining: backbone streams, decoders/classifier, frozen tokenizer.

    ``loss`` takes the streams of :class:`BEVTDataPreprocessor` (any of image
    and video present): the tokenizer turns both streams' tokenizer views into
    target ids in one call (no grad, always eval), the backbone encodes each
    stream with its mask, and the head returns the masked loss of each
    stream. Image-only batches train the image stream, video-only batches
    the BEVT-V ablation.

    Args:
        backbone (dict): ``BEVTSwinTransformer3D`` (``final_norm=False``) or
            ``BEVTTimeSformer``.
        head (dict): ``BEVTHead`` (Swin) or ``BEVTPlainHead`` (TimeSformer);
            its ``num_classes`` is set to the tokenizer's ``vocab_size`` (with
            a warning when they differ).
        target_generator (dict): A frozen tokenizer (``forward(uint8 or float
            (N, 3, h, w)) -> (N, h/8, w/8)`` ids, attribute ``vocab_size``).
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='BEVTDataPreprocessor')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 backbone: Dict,
                 head: Dict,
                 target_generator: Dict,
                 data_preprocessor: Optional[Union[Dict, nn.Module]] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='BEVTDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = backbone if isinstance(backbone, nn.Module) else MODELS.build(backbone)
        self.head = head if isinstance(head, nn.Module) else MODELS.build(head)
        self.target_generator = target_generator if isinstance(
            target_generator, nn.Module) else MODELS.build(target_generator)
        vocab = getattr(self.target_generator, 'vocab_size', None)
        if isinstance(head, dict) and vocab is not None and vocab != self.head.num_classes:
            print_log(f'model.head.num_classes={self.head.num_classes} follows the '
                      f'tokenizer: {vocab} (its vocab_size)', logger='current',
                      level=logging.WARNING)
            self.head = MODELS.build(dict(head, num_classes=vocab))
        if vocab != self.head.num_classes:
            raise ValueError(
                f'model.target_generator ({type(self.target_generator).__name__}) has '
                f'vocab_size={vocab} but model.head.num_classes={self.head.num_classes}; '
                'set model.head.num_classes to the tokenizer\'s codebook size.')
        #: streams whose first batch passed the data-contract checks
        self._checked_streams: Set[str] = set()
        for param in self.target_generator.parameters():
            param.requires_grad_(False)
        self.target_generator.eval()

    def train(self, mode: bool = True) -> 'BEVT':
        """Set the mode; the tokenizer always stays in eval mode."""
        super().train(mode)
        self.target_generator.eval()
        return self

    @torch.no_grad()
    def tokenize(self, image_view: Optional[Tensor], video_view: Optional[Tensor],
                 video_mask: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Target ids of both streams' tokenizer views in one tokenizer call.

        Args:
            image_view (Tensor, optional): ``(Ni, 3, h, w)``.
            video_view (Tensor, optional): ``(Nv, 3, T, h, w)``.
            video_mask (Tensor, optional): The video target mask
                ``(Nv, T, h/8, w/8)``. If given, only frames with a masked
                position are encoded (the loss reads ids there only; a tube
                mask leaves 0-50% of the frames unmasked) and the ids of the
                other frames are 0.

        Returns:
            dict[str, Tensor]: ``image`` ids ``(Ni, h/8, w/8)`` and/or
            ``video`` ids ``(Nv, T, h/8, w/8)``.
        """
        frames, sizes = [], {}
        if image_view is not None:
            frames.append(image_view)
            sizes['image'] = image_view.shape[0]
        keep = None
        if video_view is not None:
            nv, c, t, h, w = video_view.shape
            video_frames = video_view.transpose(1, 2).reshape(nv * t, c, h, w)
            if video_mask is not None:
                keep = video_mask.reshape(nv * t, -1).any(1).to(video_frames.device)
                if bool(keep.all()) or not bool(keep.any()):
                    keep = None
                else:
                    video_frames = video_frames[keep]
            frames.append(video_frames)
            sizes['video'] = video_frames.shape[0]
        if len(frames) == 2 and frames[0].shape[1:] != frames[1].shape[1:]:
            ids = [self.target_generator(f) for f in frames]  # different sizes
        else:
            ids = self.target_generator(torch.cat(frames)).split(list(sizes.values()))
        out = dict(zip(sizes, ids))
        if 'video' in out:
            if keep is not None:
                full = out['video'].new_zeros((nv * t, ) + tuple(out['video'].shape[1:]))
                full[keep] = out['video']
                out['video'] = full
            out['video'] = out['video'].reshape(nv, t, *out['video'].shape[1:])
        return {k: v.long() for k, v in out.items()}

    @staticmethod
    def check_stream_fields(name: str, stream: Stream) -> None:
        """Raise a config-level error when a stream lacks a field of the data contract.

        Args:
            name (str): ``'image'`` or ``'video'``.
            stream (dict): One stream of :class:`BEVTDataPreprocessor`.

        Raises:
            KeyError: ``mask``, ``target_mask`` or ``tokenizer_inputs`` is
                missing (named), with the pipeline steps that set them.
        """
        lacking = [f for f in ('mask', 'target_mask', 'tokenizer_inputs')
                   if stream.get(f) is None]
        if lacking:
            generator = 'BlockMaskGenerator' if name == 'image' else 'TubeMaskGenerator'
            raise KeyError(
                f'the {name} samples lack {lacking}: the {name} pipeline must end with '
                f'TokenizerView (tokenizer_inputs), {generator} (mask, target_mask) and '
                f"PackBEVTInputs(modality='{name}')")

    @staticmethod
    def check_mask_grid(name: str, stream: Stream, target: Tensor) -> None:
        """Raise a config-level error when the pipeline's masks do not fit the token grid.

        The masks (``mask``: ``(N, [t,] h, w)``, ``target_mask``) must lie on the
        grid of the targets, one token per position the model predicts. A wrong
        ``input_size`` of the mask generator would otherwise surface as a shape
        error deep in the backbone or head, or not at all (a coarser grid that
        divides the patch grid is silently stretched).

        Args:
            name (str): ``'image'`` or ``'video'``.
            stream (dict): One stream of :class:`BEVTDataPreprocessor`.
            target (Tensor): That stream's token ids ``(N, [T,] h, w)``.

        Raises:
            ValueError: the grids differ; names the mask generator's
                ``input_size`` and the value that fits.
        """
        mask, target_mask = stream['mask'], stream['target_mask']
        grid = tuple(target.shape[-2:])
        if tuple(mask.shape[-2:]) == grid and tuple(target_mask.shape) == tuple(target.shape):
            return
        generator = 'BlockMaskGenerator' if name == 'image' else 'TubeMaskGenerator'
        size = tuple(stream['inputs'].shape[-2:])
        view = tuple(stream['tokenizer_inputs'].shape[-2:])
        raise ValueError(
            f'{name} stream: the masks are on a {tuple(mask.shape[-2:])} grid '
            f'(input_size of {generator} in the {name} pipeline), but the model\'s token grid '
            f'is {grid} (the tokenizer\'s ids of the {view[0]}x{view[1]} TokenizerView, one '
            f'per {size[0] // grid[0]}x{size[1] // grid[1]} pixels of the {size[0]}x{size[1]} '
            f'input; target_mask {tuple(target_mask.shape[1:])}, targets '
            f'{tuple(target.shape[1:])}). Set {generator}(input_size={grid[0]}) (the crop size '
            '/ 16), or make the TokenizerView size = input_size x the tokenizer factor.')

    # ---------------------------------------------------------------- modes
    def forward(self, inputs: Union[Tensor, Dict[str, Optional[Stream]]],
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """Run a mode on the output of :class:`BEVTDataPreprocessor`.

        Args:
            inputs (dict | Tensor): The preprocessor's streams; in
                ``'tensor'`` mode also a plain normalized batch ``(N, C, [T,]
                H, W)``.
            data_samples (list, optional): The batch's samples.
            mode (str): ``'loss'``: :meth:`loss`. ``'tensor'``: for a tensor,
                :meth:`extract_feat`; for streams, token logits at every
                position per stream (masks applied), ``(N, [T,] h, w,
                num_classes)``.

        Returns:
            dict[str, Tensor] | Tensor | tuple: As the mode says.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('tensor', 'predict'):
            if isinstance(inputs, Tensor):
                return self.extract_feat(inputs)
            return {name: self.head(name, self.backbone.forward_pretrain(
                        s['inputs'], s.get('mask')))
                    for name, s in inputs.items() if s is not None}
        raise RuntimeError(f'Invalid mode "{mode}".')

    def extract_feat(self, inputs: Tensor) -> Union[Tensor, tuple]:
        """Backbone features as for fine-tuning (no mask)."""
        return self.backbone(inputs)

    def loss(self, inputs: Dict[str, Optional[Stream]],
             data_samples: Optional[List[BaseDataElement]] = None) -> Dict[str, Tensor]:
        """Masked-token losses of the streams in the batch.

        The data contract (the stream fields, the masks on the token grid) is
        checked on the first batch of each stream only.

        Args:
            inputs (dict): The streams of :class:`BEVTDataPreprocessor`:
                ``image`` / ``video`` each None or a dict with ``inputs``
                (normalized ``(N, C, H, W)`` / ``(N, C, T, H, W)``), ``mask``
                (on the backbone's patch grid), ``target_mask`` (on the token
                grid) and ``tokenizer_inputs`` (the tokenizer's view).
            data_samples (list, optional): Unused; the preprocessor stacks
                what the loss reads into the streams.

        Returns:
            dict[str, Tensor]: ``loss_image`` / ``loss_video`` (weighted) and
            ``acc_image`` / ``acc_video`` (masked-token accuracy, %) of the
            streams present.

        Raises:
            TypeError: ``inputs`` is not the preprocessor's dict of streams.
            KeyError, ValueError: the first batch of a stream breaks the data
                contract (see :meth:`check_stream_fields`,
                :meth:`check_mask_grid`).
        """
        present = {k: s for k, s in inputs.items() if s is not None} \
            if isinstance(inputs, dict) else {}
        unchecked = [name for name in present if name not in self._checked_streams]
        if not present:
            raise TypeError('BEVT.loss takes the streams of BEVTDataPreprocessor '
                            "(dict(image=..., video=...), at least one not None); got "
                            f'{type(inputs).__name__}: set model.data_preprocessor to '
                            "dict(type='BEVTDataPreprocessor')")
        for name in unchecked:
            self.check_stream_fields(name, present[name])
        image, video = present.get('image'), present.get('video')
        targets = self.tokenize(None if image is None else image['tokenizer_inputs'],
                                None if video is None else video['tokenizer_inputs'],
                                None if video is None else video['target_mask'])
        for name in unchecked:
            self.check_mask_grid(name, present[name], targets[name])
            self._checked_streams.add(name)
        losses: Dict[str, Tensor] = {}
        for name, stream in present.items():
            feats = self.backbone.forward_pretrain(stream['inputs'], stream['mask'])
            losses.update(self.head.loss(name, feats, targets[name], stream['target_mask']))
        return losses
