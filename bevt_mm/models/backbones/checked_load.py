"""Every load into a BEVT backbone converts what needs it and refuses what does not fit.

mmengine and MMAction2 load ``pretrained=``, ``init_cfg=Pretrained``,
``load_from`` and a test checkpoint with ``strict=False`` and only warn about
keys that do not match, so a checkpoint of another layout left a stock
backbone at its random init after one warning. The BEVT backbones check each
load where torch and mmengine both pass through, ``_load_from_state_dict`` (it
sees the backbone's keys whatever module the load started from):

* a BEVT pretraining checkpoint loaded into the fine-tuning form (no image
  stream, no mask token) is converted as the exporters convert it;
* fewer than half of the backbone's tensors found (name and shape) raises
  :class:`~bevt_mm.utils.checkpoint.BackboneCheckpointError` naming the file
  or key prefix, the count and the converter;
* the log says ``<source>: N of M tensors of the <type> backbone found``.
"""
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

from mmengine.logging import print_log

from bevt_mm.utils.checkpoint import check_backbone_match, select_prefix
from bevt_mm.utils.checkpoint.state_dict import StateDict


class CheckedLoadMixin:
    """Checks (and converts) every state dict loaded into the backbone.

    Subclasses set :attr:`checkpoint_family` and may override
    :meth:`convert_checkpoint`.
    """

    #: ``'swin'`` or ``'timesformer'``: the converter named in errors
    checkpoint_family = 'swin'
    _load_source: Optional[str] = None

    @property
    def is_finetuning_form(self) -> bool:
        """No image stream and no mask token: the parameters of the stock backbone."""
        return (getattr(self, 'patch_embed_2d', None) is None
                and getattr(self, 'mask_token', None) is None)

    @contextmanager
    def loading_from(self, source: str) -> Iterator[None]:
        """Name ``source`` in the messages of the loads inside the block.

        Args:
            source (str): The checkpoint file (or a description of it).
        """
        self._load_source = source
        try:
            yield
        finally:
            self._load_source = None

    def convert_checkpoint(self, state_dict: StateDict) -> Tuple[StateDict, str]:
        """The backbone's keys of a load, converted where needed.

        Args:
            state_dict (dict): Keys without the backbone's prefix.

        Returns:
            tuple[dict, str]: What to load, and a note for the log (``''``
            if nothing changed).
        """
        return state_dict, ''

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        source = self._load_source or (f'the checkpoint (keys under {prefix!r})' if prefix
                                       else 'the checkpoint')
        mine, note = self.convert_checkpoint(select_prefix(state_dict, prefix))
        found, total = check_backbone_match(mine, self, source, self.checkpoint_family,
                                            prefix=prefix)
        for key in [k for k in state_dict if k.startswith(prefix)]:
            del state_dict[key]
        state_dict.update((prefix + k, v) for k, v in mine.items())
        print_log(f'{source}: {found} of {total} tensors of the {type(self).__name__} backbone '
                  f'found' + (f' ({note})' if note else ''), logger='current')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)
