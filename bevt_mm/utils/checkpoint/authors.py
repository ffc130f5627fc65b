"""The authors' released BEVT checkpoint (xyzforever/BEVT) -> our ``BEVT`` model."""
import warnings
from typing import Any

from .state_dict import StateDict, get_state_dict, revise_keys
from .swin import is_constant

#: authors' decoder/classifier prefixes -> ours
AUTHORS_TO_OURS = (
    (r'^backbone\.lm_down_st\.0\.', 'head.video_decoder.proj.'),
    (r'^backbone\.fpn_s\.0\.', 'head.video_decoder.upsample_spatial.'),
    (r'^backbone\.fpn_t\.0\.', 'head.video_decoder.upsample_temporal.'),
    (r'^backbone\.lm_down\.', 'head.image_decoder.proj.'),
    (r'^backbone\.fpn\.0\.', 'head.image_decoder.upsample.'),
    (r'^backbone\.norm\.', 'head.norm.'),
    (r'^cls_head\.lm_head\.', 'head.classifier.'),
)


def convert_authors_bevt(checkpoint: Any) -> StateDict:
    """Authors' BEVT checkpoint -> our ``BEVT`` model state dict.

    Backbone keys keep their names (``backbone.patch_embed``,
    ``backbone.patch_embed_2d``, ``backbone.mask_token``,
    ``backbone.layers``); the decoders, the decoder norm ``backbone.norm``
    and ``cls_head.lm_head`` move to ``head.*``. ``relative_position_index``
    and ``attn_mask`` buffers are dropped; other keys (e.g. a tokenizer) are
    dropped with a warning.

    Args:
        checkpoint (Any): The loaded checkpoint.

    Returns:
        dict[str, Tensor]: Keys ``backbone.*`` and ``head.*`` of our model.
    """
    sd = revise_keys({k: v for k, v in get_state_dict(checkpoint).items()
                      if not is_constant(k)}, AUTHORS_TO_OURS)
    dropped = [k for k in sd if not k.startswith(('backbone.', 'head.'))]
    if dropped:
        warnings.warn(f'convert_authors_bevt: dropped {len(dropped)} keys that are not '
                      f'part of the BEVT backbone/head: {dropped[:5]}...')
    return {k: v for k, v in sd.items() if k.startswith(('backbone.', 'head.'))}
