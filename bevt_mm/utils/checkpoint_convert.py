"""Checkpoint conversions between BEVT, the authors' code, Swin and MMAction2.

All functions take a loaded checkpoint (a state dict, or a dict holding one
under ``state_dict`` / ``model`` / ``module``) and return a plain state dict;
the CLIs in ``tools/convert/`` only load, call and save.

* :func:`convert_authors_bevt`: the authors' released BEVT layout -> our
  ``BEVT`` model (``backbone.*`` + ``head.*``).
* :func:`swin2d_to_bevt`: a 2D Swin (original or mmpretrain layout) or a BEVT
  image-stream checkpoint -> our backbone keys (2D patch weights in
  ``patch_embed_2d``).
* :func:`image_to_joint`: an image-stream backbone state dict -> joint
  image+video initialization (patch weights inflated to 3D, relative tables
  repeated over temporal offsets, resized if windows differ).
* :func:`bevt_to_mmaction_swin`: our pretraining checkpoint -> a backbone
  state dict that MMAction2's stock ``SwinTransformer3D`` loads with no missing
  keys (``norm3`` from the decoder norm, ``relative_position_index`` added).
"""
import math
import re
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

StateDict = Dict[str, Tensor]

#: authors' decoder/classifier prefixes -> ours (order matters: longest first)
AUTHORS_TO_OURS = (
    ('backbone.lm_down_st.0.', 'head.video_decoder.proj.'),
    ('backbone.fpn_s.0.', 'head.video_decoder.upsample_spatial.'),
    ('backbone.fpn_t.0.', 'head.video_decoder.upsample_temporal.'),
    ('backbone.lm_down.', 'head.image_decoder.proj.'),
    ('backbone.fpn.0.', 'head.image_decoder.upsample.'),
    ('backbone.norm.', 'head.norm.'),
    ('cls_head.lm_head.', 'head.classifier.'),
)
#: derived constants that our backbone rebuilds; never converted
_CONSTANT_KEYS = ('relative_position_index', 'attn_mask')


def get_state_dict(checkpoint: Any) -> StateDict:
    """The state dict inside a checkpoint, without a DDP ``module.`` prefix.

    Args:
        checkpoint (Any): A state dict or a dict holding one under
            ``state_dict``, ``model`` or ``module`` (possibly nested).

    Returns:
        dict[str, Tensor]: The state dict.
    """
    obj = checkpoint
    while isinstance(obj, dict) and not any(isinstance(v, Tensor) for v in obj.values()):
        for key in ('state_dict', 'model', 'module'):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        else:
            break
    if not isinstance(obj, dict) or not obj:
        raise ValueError('no state dict found in the checkpoint (expected a dict of '
                         'tensors, possibly under "state_dict", "model" or "module")')
    return {(k[7:] if k.startswith('module.') else k): v
            for k, v in obj.items() if isinstance(v, Tensor)}


def _is_constant(key: str) -> bool:
    return key.rsplit('.', 1)[-1] in _CONSTANT_KEYS


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
    out: StateDict = {}
    dropped = []
    for key, value in get_state_dict(checkpoint).items():
        if _is_constant(key):
            continue
        for old, new in AUTHORS_TO_OURS:
            if key.startswith(old):
                out[new + key[len(old):]] = value
                break
        else:
            if key.startswith('backbone.'):
                out[key] = value
            else:
                dropped.append(key)
    if dropped:
        warnings.warn(f'convert_authors_bevt: dropped {len(dropped)} keys that are not '
                      f'part of the BEVT backbone/head: {dropped[:5]}...')
    return out


def _reorder_unfold(weight: Tensor) -> Tensor:
    """mmpretrain's ``PatchMerging`` (nn.Unfold order: channel, kh, kw) ->
    the original Swin order ``cat([x(0,0), x(1,0), x(0,1), x(1,1)])``."""
    if weight.dim() == 1:
        c = weight.shape[0] // 4
        return weight.reshape(c, 2, 2).permute(2, 1, 0).reshape(-1)
    out_c, in_c = weight.shape
    c = in_c // 4
    return weight.reshape(out_c, c, 2, 2).permute(0, 3, 2, 1).reshape(out_c, in_c)


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
    sd = get_state_dict(checkpoint)
    if any(k.startswith('backbone.') for k in sd):
        sd = {k[9:]: v for k, v in sd.items() if k.startswith('backbone.')}
    sd = {k: v for k, v in sd.items() if not _is_constant(k)}
    if 'patch_embed_2d.proj.weight' in sd:  # already our layout
        return sd
    out: StateDict = {}
    mmpretrain = any(k.startswith('stages.') for k in sd)
    for key, value in sd.items():
        if key.startswith('head.'):
            continue
        new = key
        if mmpretrain:
            new = new.replace('patch_embed.projection.', 'patch_embed.proj.')
            new = re.sub(r'^stages\.', 'layers.', new)
            new = new.replace('.attn.w_msa.', '.attn.')
            new = new.replace('.ffn.layers.0.0.', '.mlp.fc1.')
            new = new.replace('.ffn.layers.1.', '.mlp.fc2.')
            if '.downsample.' in new:
                value = _reorder_unfold(value)
        if new.startswith('patch_embed.'):
            new = 'patch_embed_2d.' + new[len('patch_embed.'):]
        if new in ('norm.weight', 'norm.bias'):
            new = 'norm3.' + new.split('.')[-1]
        out[new] = value
    return out


def _is_square(n: int) -> bool:
    r = math.isqrt(n)
    return r * r == n


def _table_to_2d(table: Tensor, window_size: Sequence[int],
                 src_window_size: Optional[Sequence[int]]) -> Tensor:
    """The ``(S*S, nH)`` spatial table of a 2D or 3D relative table
    (3D: the slice at temporal distance 0)."""
    length = table.shape[0]
    target = (2 * window_size[0] - 1) * (2 * window_size[1] - 1) * (2 * window_size[2] - 1)
    if src_window_size is not None:
        wd = src_window_size[0] if len(src_window_size) == 3 else 1
    elif length == target:
        wd = window_size[0]
    elif _is_square(length):
        return table
    else:
        cands = [d for d in range(1, 65)
                 if length % (2 * d - 1) == 0 and _is_square(length // (2 * d - 1))]
        if len(cands) != 1:
            raise ValueError(f'cannot infer the window of a relative table of length '
                             f'{length}; pass src_window_size')
        wd = cands[0]
    if wd == 1 and _is_square(length):
        return table
    s2 = length // (2 * wd - 1)
    return table.reshape(2 * wd - 1, s2, -1)[wd - 1]


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
            model; inferred from the table sizes when None.

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


def relative_position_index(window_size: Sequence[int]) -> Tensor:
    """MMAction2's ``WindowAttention3D.relative_position_index`` buffer."""
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
    """Resize a 3D relative table ``((2Wd-1)(2Wh-1)(2Ww-1), nH)`` trilinearly
    to another window (e.g. 8x7x7 -> 16x7x7 for the SSv2 recipe)."""
    old = [2 * w - 1 for w in window_size]
    new = [2 * w - 1 for w in new_window_size]
    if old == new:
        return table
    heads = table.shape[1]
    grid = table.t().reshape(1, heads, *old).float()
    grid = F.interpolate(grid, size=new, mode='trilinear', align_corners=False)
    return grid.reshape(heads, -1).t().contiguous().to(table.dtype)


def bevt_to_mmaction_swin(checkpoint: Any,
                          window_size: Sequence[int] = (8, 7, 7),
                          norm3: str = 'decoder',
                          new_window_size: Optional[Sequence[int]] = None) -> StateDict:
    """Our pretraining checkpoint -> stock MMAction2 ``SwinTransformer3D`` keys.

    Drops ``patch_embed_2d``, ``mask_token``, decoders and classifier; adds the
    ``relative_position_index`` buffers of ``window_size``; sets ``norm3``:

    * ``'decoder'`` (default, as the authors' fine-tuning): the decoder norm
      (``head.norm``, or ``head.video_norm`` with separate norms). The
      encoder's stage-4 output never passed through a norm in pretraining, so
      no trained norm exists for it; the decoder norm is what the authors'
      fine-tuning loaded (and their reported results used);
    * ``'fresh'``: weight 1, bias 0 (a plain LayerNorm);
    * ``'backbone'``: the backbone's own ``norm3`` (fails if it has none).

    Args:
        checkpoint (Any): Our ``BEVT`` checkpoint (``backbone.*``, ``head.*``)
            or a bare backbone state dict.
        window_size (Sequence[int]): Window of the pretrained model (checked
            against the table sizes).
        norm3 (str): ``'decoder'``, ``'fresh'`` or ``'backbone'``.
        new_window_size (Sequence[int], optional): Window of the fine-tuning
            recipe if it differs; tables are resized with
            :func:`resize_relative_table` (stock Swin would otherwise skip
            them with only a size-mismatch warning). Defaults to None.

    Returns:
        dict[str, Tensor]: Backbone state dict (no ``backbone.`` prefix).
    """
    sd = get_state_dict(checkpoint)
    head = {k[5:]: v for k, v in sd.items() if k.startswith('head.')}
    if any(k.startswith('backbone.') for k in sd):
        sd = {k[9:]: v for k, v in sd.items() if k.startswith('backbone.')}
    out = {k: v for k, v in sd.items()
           if not (k.startswith('patch_embed_2d.') or k == 'mask_token' or _is_constant(k))}
    stage_norms = sorted(k for k in out if re.fullmatch(r'norm\d+\.weight', k))
    last = int(stage_norms[-1][4:-7]) if stage_norms else 3
    if norm3 == 'decoder':
        prefix = 'norm.' if 'norm.weight' in head else 'video_norm.'
        if prefix + 'weight' not in head:
            raise KeyError('norm3="decoder" needs head.norm or head.video_norm in the checkpoint')
        out[f'norm{last}.weight'] = head[prefix + 'weight'].clone()
        out[f'norm{last}.bias'] = head[prefix + 'bias'].clone()
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
    expected = (2 * window_size[0] - 1) * (2 * window_size[1] - 1) * (2 * window_size[2] - 1)
    new_window_size = tuple(new_window_size or window_size)
    index = relative_position_index(new_window_size)
    for key in [k for k in out if k.endswith('relative_position_bias_table')]:
        if out[key].shape[0] != expected:
            raise ValueError(f'{key} has {out[key].shape[0]} rows, window {tuple(window_size)} '
                             f'needs {expected}; pass the window size of the pretrained model')
        out[key] = resize_relative_table(out[key], window_size, new_window_size)
        out[key[:-len('bias_table')] + 'index'] = index.clone()
    return out


def split_prefix(state_dict: StateDict, prefix: str) -> Tuple[StateDict, StateDict]:
    """Split a state dict into (keys under ``prefix`` without it, the rest)."""
    inside = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    rest = {k: v for k, v in state_dict.items() if not k.startswith(prefix)}
    return inside, rest


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
    backbone, rest = split_prefix(sd, 'backbone.')
    backbone = image_to_joint(swin2d_to_bevt(backbone) if 'patch_embed_2d.proj.weight'
                              not in backbone else backbone,
                              window_size, patch_size, src_window_size)
    out = {f'backbone.{k}': v for k, v in backbone.items() if not _is_constant(k)}
    out.update({k: v for k, v in rest.items() if k.startswith('head.')})
    return out
