"""Video Swin checkpoints: relative position tables, 2D Swin -> BEVT, image -> joint,
and the export of a BEVT pretraining checkpoint to MMAction2's ``SwinTransformer3D``."""
import math
import re
from typing import Any, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .state_dict import StateDict, get_state_dict, select_prefix

#: derived constants that our backbone rebuilds; never converted
CONSTANT_KEYS = ('relative_position_index', 'attn_mask')

Window = Tuple[int, int, int]


def is_constant(key: str) -> bool:
    """Whether ``key`` names a derived buffer (:data:`CONSTANT_KEYS`).

    Args:
        key (str): A state-dict key.

    Returns:
        bool: True for a buffer rebuilt from the window, never loaded.
    """
    return key.rsplit('.', 1)[-1] in CONSTANT_KEYS


def _odd_factor(rows: int, spatial: int) -> Optional[int]:
    """``(rows / spatial + 1) / 2`` if that is a whole temporal window, else None."""
    if rows % spatial or (rows // spatial) % 2 == 0:
        return None
    return (rows // spatial + 1) // 2


def table_window(rows: int, spatial: Optional[Sequence[int]] = None, flag: str = '') -> Window:
    """The window ``(Wd, Wh, Ww)`` of a relative position table of ``rows`` rows.

    A table has ``(2Wd-1)(2Wh-1)(2Ww-1)`` rows. The spatial window ``spatial``
    is tried first (the recipes change the temporal window only); otherwise the
    candidates are the square spatial windows ``Wh = Ww >= 2`` whose rows
    divide ``rows`` with an odd quotient and whose temporal window is at most
    4x the spatial one (Video Swin windows: 8x7x7, 16x7x7, 2x4x4, 4x4x4), and
    exactly one must fit.

    Args:
        rows (int): Rows of the table.
        spatial (Sequence[int], optional): ``(Wh, Ww)`` to try first.
        flag (str): The option that sets the window, named in the error.

    Returns:
        tuple[int, int, int]: The window.

    Raises:
        ValueError: No window, or several, fit ``rows``.
    """
    if spatial is not None:
        wh, ww = spatial[-2:]
        wd = _odd_factor(rows, (2 * wh - 1) * (2 * ww - 1))
        if wd is not None:
            return (wd, wh, ww)
    found = [(wd, s, s) for s in range(2, math.isqrt(rows) // 2 + 2)
             if (wd := _odd_factor(rows, (2 * s - 1)**2)) is not None and wd <= 4 * s]
    if len(found) != 1:
        what = f'several windows fit ({found})' if found else 'no window fits'
        raise ValueError(f'a relative position table of {rows} rows: {what}; '
                         f'give the window of the pretrained model'
                         + (f' with {flag}' if flag else ''))
    return found[0]


def relative_position_index(window_size: Sequence[int]) -> Tensor:
    """MMAction2's ``WindowAttention3D.relative_position_index`` buffer.

    Args:
        window_size (Sequence[int]): ``(Wd, Wh, Ww)``.

    Returns:
        Tensor: ``(Wd*Wh*Ww, Wd*Wh*Ww)`` int64 row indices into the
        ``((2Wd-1)(2Wh-1)(2Ww-1), nH)`` relative position table.
    """
    coords = torch.stack(torch.meshgrid(*[torch.arange(w) for w in window_size],
                                        indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    for i, w in enumerate(window_size):
        rel[:, :, i] += w - 1
    rel[:, :, 0] *= (2 * window_size[1] - 1) * (2 * window_size[2] - 1)
    rel[:, :, 1] *= 2 * window_size[2] - 1
    return rel.sum(-1)


def resize_relative_table(table: Tensor, window_size: Sequence[int],
                          new_window_size: Sequence[int]) -> Tensor:
    """Resize a 3D relative position table trilinearly to another window.

    E.g. 8x7x7 -> 16x7x7 for the SSv2 recipe.

    Args:
        table (Tensor): ``((2Wd-1)(2Wh-1)(2Ww-1), nH)`` for ``window_size``.
        window_size (Sequence[int]): ``(Wd, Wh, Ww)`` the table was made for.
        new_window_size (Sequence[int]): The window to resize to.

    Returns:
        Tensor: The table for ``new_window_size``, in ``table``'s dtype
        (``table`` itself when both windows give the same size).
    """
    old = [2 * w - 1 for w in window_size]
    new = [2 * w - 1 for w in new_window_size]
    if old == new:
        return table
    heads = table.shape[1]
    grid = table.t().reshape(1, heads, *old).float()
    grid = F.interpolate(grid, size=new, mode='trilinear', align_corners=False)
    return grid.reshape(heads, -1).t().contiguous().to(table.dtype)


def _reorder_unfold(weight: Tensor) -> Tensor:
    """mmpretrain's ``PatchMerging`` (nn.Unfold order: channel, kh, kw) ->
    the original Swin order ``cat([x(0,0), x(1,0), x(0,1), x(1,1)])``."""
    if weight.dim() == 1:
        c = weight.shape[0] // 4
        return weight.reshape(c, 2, 2).permute(2, 1, 0).reshape(-1)
    out_c, in_c = weight.shape
    c = in_c // 4
    return weight.reshape(out_c, c, 2, 2).permute(0, 3, 2, 1).reshape(out_c, in_c)


#: mmpretrain Swin key -> original Swin key (``swin2d_to_bevt``)
_MMPRETRAIN_RENAMES = ((r'patch_embed\.projection\.', 'patch_embed.proj.'),
                       (r'^stages\.', 'layers.'),
                       (r'\.attn\.w_msa\.', '.attn.'),
                       (r'\.ffn\.layers\.0\.0\.', '.mlp.fc1.'),
                       (r'\.ffn\.layers\.1\.', '.mlp.fc2.'),
                       (r'^patch_embed\.', 'patch_embed_2d.'),
                       (r'^norm\.(weight|bias)$', r'norm3.\1'))


def swin2d_to_bevt(checkpoint: Any) -> StateDict:
    """A 2D Swin or BEVT image-stream checkpoint -> our backbone keys.

    Layouts: original Swin (``layers.i.blocks.j.attn.qkv``, ``patch_embed.proj``,
    ``norm``, ``head``), mmpretrain (``[backbone.]stages.i.blocks.j.attn.w_msa``,
    ``ffn.layers``, unfold-ordered ``downsample``), or our own BEVT checkpoint
    (``backbone.patch_embed_2d`` present; returned as is). The 2D patch
    embedding goes to ``patch_embed_2d``; the final norm to ``norm3``; the
    classification head is dropped. Tables keep their (2D) size; see
    :func:`image_to_joint`.

    Args:
        checkpoint (Any): The loaded checkpoint.

    Returns:
        dict[str, Tensor]: Backbone state dict (no ``backbone.`` prefix).
    """
    sd = {k: v for k, v in get_state_dict(checkpoint, 'backbone.').items()
          if not is_constant(k)}
    if 'patch_embed_2d.proj.weight' in sd:  # already our layout
        return sd
    mmpretrain = any(k.startswith('stages.') for k in sd)
    out: StateDict = {}
    for key, value in sd.items():
        if key.startswith('head.'):
            continue
        if mmpretrain and '.downsample.' in key:
            value = _reorder_unfold(value)
        for pattern, repl in _MMPRETRAIN_RENAMES[0 if mmpretrain else 5:]:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def _table_to_2d(table: Tensor, window_size: Sequence[int],
                 src_window_size: Optional[Sequence[int]]) -> Tensor:
    """The ``(S*S, nH)`` spatial table of a 2D or 3D relative table
    (3D: the slice at temporal distance 0)."""
    rows = table.shape[0]
    full = (2 * window_size[0] - 1) * (2 * window_size[1] - 1) * (2 * window_size[2] - 1)
    if src_window_size is not None:
        wd = src_window_size[0] if len(src_window_size) == 3 else 1
    elif rows == full:
        wd = window_size[0]
    elif math.isqrt(rows)**2 == rows:  # a 2D table
        return table
    else:
        wd = table_window(rows, flag='src_window_size')[0]
    if wd == 1:
        return table
    return table.reshape(2 * wd - 1, rows // (2 * wd - 1), -1)[wd - 1]


def image_to_joint(state_dict: StateDict,
                   window_size: Sequence[int] = (8, 7, 7),
                   patch_size: Sequence[int] = (2, 4, 4),
                   src_window_size: Optional[Sequence[int]] = None) -> StateDict:
    """Image-stream backbone weights -> joint image+video initialization.

    ``patch_embed_2d`` is kept and also inflated into ``patch_embed``
    (weight repeated over time / temporal patch size, bias and norm copied);
    each relative table is reduced to its spatial (temporal-distance-0) table,
    resized bicubically if the spatial window differs, and repeated over the
    ``2 * Wd - 1`` temporal offsets of ``window_size``.

    Args:
        state_dict (dict): Backbone state dict (from :func:`swin2d_to_bevt`).
        window_size (Sequence[int]): Window of the joint model.
        patch_size (Sequence[int]): 3D patch size of the joint model.
        src_window_size (Sequence[int], optional): Window of the source
            model; read from the table sizes when None.

    Returns:
        dict[str, Tensor]: Backbone state dict for the joint model.
    """
    sd = dict(state_dict)
    pt = patch_size[0]
    if 'patch_embed_2d.proj.weight' in sd:
        w2d = sd['patch_embed_2d.proj.weight']
        sd['patch_embed.proj.weight'] = w2d.unsqueeze(2).repeat(1, 1, pt, 1, 1) / pt
        for name in ('proj.bias', 'norm.weight', 'norm.bias'):
            if f'patch_embed_2d.{name}' in sd:
                sd[f'patch_embed.{name}'] = sd[f'patch_embed_2d.{name}'].clone()
    wd, wh, ww = window_size
    for key in [k for k in sd if k.endswith('relative_position_bias_table')]:
        table = _table_to_2d(sd[key], window_size, src_window_size)
        heads = table.shape[1]
        s = math.isqrt(table.shape[0])
        if (s, s) != (2 * wh - 1, 2 * ww - 1):
            table = F.interpolate(table.t().reshape(1, heads, s, s).float(),
                                  size=(2 * wh - 1, 2 * ww - 1), mode='bicubic',
                                  align_corners=False).reshape(heads, -1).t().to(table.dtype)
        sd[key] = table.repeat(2 * wd - 1, 1).contiguous()
    return sd


def image_to_joint_checkpoint(checkpoint: Any,
                              window_size: Sequence[int] = (8, 7, 7),
                              patch_size: Sequence[int] = (2, 4, 4),
                              src_window_size: Optional[Sequence[int]] = None) -> StateDict:
    """Our image-stream ``BEVT`` checkpoint -> joint model initialization.

    The backbone goes through :func:`image_to_joint`; the head (image decoder,
    norm, classifier; the untrained video decoder too) is kept, the tokenizer
    dropped (it is rebuilt from its own checkpoint).

    Args:
        checkpoint (Any): Image-stream checkpoint (``backbone.*``, ``head.*``).
        window_size, patch_size, src_window_size: See :func:`image_to_joint`.

    Returns:
        dict[str, Tensor]: Full-model state dict for ``load_from``.
    """
    sd = get_state_dict(checkpoint)
    backbone = swin2d_to_bevt(select_prefix(sd, 'backbone.'))
    backbone = image_to_joint(backbone, window_size, patch_size, src_window_size)
    out = {f'backbone.{k}': v for k, v in backbone.items() if not is_constant(k)}
    out.update({k: v for k, v in sd.items() if k.startswith('head.')})
    return out


def decoder_norm(head: StateDict) -> Optional[Tuple[Tensor, Tensor]]:
    """The decoder LayerNorm of a BEVT head state dict.

    ``norm`` when the decoders share one norm, else the video decoder's
    ``video_norm`` (``BEVTHead(share_norm=False)``): stage-4 video features
    went through it in pretraining, never through the image stream's
    ``image_norm``.

    Args:
        head (dict[str, Tensor]): The head's state dict, without ``head.``.

    Returns:
        tuple[Tensor, Tensor] | None: ``(weight, bias)``, or None if the
        head has neither norm.
    """
    for name in ('norm', 'video_norm'):
        if f'{name}.weight' in head:
            return head[f'{name}.weight'], head[f'{name}.bias']
    return None


def bevt_to_mmaction_swin(checkpoint: Any,
                          window_size: Optional[Sequence[int]] = None,
                          norm3: str = 'decoder',
                          new_window_size: Optional[Sequence[int]] = None) -> StateDict:
    """Our pretraining checkpoint -> stock MMAction2 ``SwinTransformer3D`` keys.

    Drops ``patch_embed_2d``, ``mask_token``, decoders and classifier; adds the
    ``relative_position_index`` buffers; sets the final norm (``norm3``):

    * ``'decoder'`` (default, as the authors' fine-tuning): the decoder norm
      (:func:`decoder_norm`). The encoder's stage-4 output never passed
      through a norm in pretraining, so no trained norm exists for it; the
      decoder norm is what the authors' fine-tuning loaded (and their
      reported results used);
    * ``'fresh'``: weight 1, bias 0 (a plain LayerNorm);
    * ``'backbone'``: the backbone's own ``norm3`` (fails if it has none).

    Args:
        checkpoint (Any): Our ``BEVT`` checkpoint (``backbone.*``, ``head.*``)
            or a bare backbone state dict.
        window_size (Sequence[int], optional): Window of the pretrained
            model; None reads it from the table sizes (:func:`table_window`,
            trying the spatial window of ``new_window_size`` first).
        norm3 (str): ``'decoder'``, ``'fresh'`` or ``'backbone'``.
        new_window_size (Sequence[int], optional): Window of the fine-tuning
            recipe if it differs; tables are resized with
            :func:`resize_relative_table` (stock Swin would otherwise skip
            them with only a size-mismatch warning). Defaults to None.

    Returns:
        dict[str, Tensor]: Backbone state dict (no ``backbone.`` prefix).

    Raises:
        KeyError: ``norm3`` asks for a norm the checkpoint does not have.
        ValueError: The tables do not fit ``window_size``, or their window
            cannot be read.
    """
    sd = get_state_dict(checkpoint)
    head = select_prefix(sd, 'head.')
    sd = get_state_dict(sd, 'backbone.')
    out = {k: v for k, v in sd.items()
           if not (k.startswith('patch_embed_2d.') or k == 'mask_token' or is_constant(k))}
    stage_norms = sorted(k for k in out if re.fullmatch(r'norm\d+\.weight', k))
    last = int(stage_norms[-1][4:-7]) if stage_norms else 3
    if norm3 == 'decoder':
        norm = decoder_norm(head)
        if norm is None:
            raise KeyError('norm3="decoder" needs head.norm or head.video_norm in the checkpoint')
        out[f'norm{last}.weight'], out[f'norm{last}.bias'] = (t.clone() for t in norm)
    elif norm3 == 'fresh':
        dim = out['layers.%d.blocks.0.norm1.weight' % max(
            int(k.split('.')[1]) for k in out if k.startswith('layers.'))].shape[0]
        out[f'norm{last}.weight'] = torch.ones(dim)
        out[f'norm{last}.bias'] = torch.zeros(dim)
    elif norm3 == 'backbone':
        if f'norm{last}.weight' not in out:
            raise KeyError(f'norm3="backbone" but the backbone has no norm{last} '
                           '(pretraining with final_norm=False)')
    else:
        raise ValueError(f"norm3 must be 'decoder', 'fresh' or 'backbone', got {norm3!r}")
    tables = [k for k in out if k.endswith('relative_position_bias_table')]
    if not tables:
        return out
    if window_size is None:
        window_size = table_window(out[tables[0]].shape[0], new_window_size,
                                   flag='--src-window-size')
    window_size = tuple(window_size)
    new_window_size = tuple(new_window_size or window_size)
    expected = math.prod(2 * w - 1 for w in window_size)
    index = relative_position_index(new_window_size)
    for key in tables:
        if out[key].shape[0] != expected:
            raise ValueError(f'{key} has {out[key].shape[0]} rows, window {window_size} '
                             f'needs {expected}: give the window of the pretrained model '
                             '(--src-window-size), or leave it out to read it from the tables')
        out[key] = resize_relative_table(out[key], window_size, new_window_size)
        out[key[:-len('bias_table')] + 'index'] = index.clone()
    return out
