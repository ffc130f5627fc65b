#!/usr/bin/env python
"""Does a BEVT checkpoint's video stream use time? Ordered vs shuffled masked-token accuracy.

Runs the pretraining CONFIG's video pipeline (centred clip, the config's masks)
on a video list with the frames of each clip in order, shuffled before
masking, and in order with the unmasked frames taken from another clip, and
prints the video stream's masked-token accuracy and loss for each, the gaps,
and two copy baselines on the same masked tokens (the most common code; the
same cell of the nearest unmasked frame). A gap near 0 means the masked tubes are
filled from appearance alone; a context gap near 0, that the unmasked frames
are not used at all.

Example (the toy demo's pretraining on toy-temporal)::

    python tools/analysis/frame_order.py configs/toy/toy_joint_swin.py \
        work_dirs/toy/pretrain/epoch_4.pth --ann-file data/toy/temporal/val_list.txt \
        --data-prefix data/toy/temporal --cfg-options \
        model.target_generator.checkpoint=work_dirs/toy/tokenizer/vqvae_toy.pth

A masked video model can fill a masked tube from the same place in other
frames (appearance) or by following the motion (frame order). Shuffling the
frames of a clip before masking keeps every frame and every target but breaks
the motion; the drop of masked-token accuracy from ordered to shuffled clips
is what the model takes from frame order. On toy-temporal, where the class
*is* the frame order, a video stream whose accuracy does not drop has learned
nothing a temporal probe could read.

Both passes see the same clips, the same tube masks (the global NumPy RNG is
re-seeded before each pass and :class:`~bevt_mm.datasets.transforms.ShuffleFrames`
draws from its own per-sample generator) and the same targets (the tokenizer
sees the shuffled frames too); only the frame order differs.

Two more measurements tell a model that ignores time from targets that time
cannot help with:

* *context swapped*: the frames of a clip without a masked token (the tube
  mask leaves 0-50 % of the frames unmasked) are replaced by the same frames
  of another clip before the forward pass; masks and targets stay. A model
  that takes nothing from the unmasked frames keeps its accuracy.
* *copy baselines* on the same masked tokens: the most common target code
  (the best constant guess, counted on the evaluated tokens themselves) and
  the token of the same cell in the nearest unmasked frame. When copying is
  no better than the constant guess, the targets change too much between
  frames for the context to help.
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction

from bevt_mm.analysis.frame_order import frame_order_gap
from bevt_mm.utils.stack_warnings import ignore_stack_noise


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='video masked-token accuracy: ordered, shuffled, context swapped')
    p.add_argument('config', help='BEVT pretraining config (model + video pipeline)')
    p.add_argument('checkpoint', nargs='?', help='its checkpoint (omit for the initial model)')
    p.add_argument('--ann-file', required=True, help='video list (path label)')
    p.add_argument('--data-prefix', required=True, help='video folder of the list')
    p.add_argument('--num', type=int, default=None, help='first N videos (default: all)')
    p.add_argument('--seed', type=int, default=0, help='masks and shuffles (default: 0)')
    p.add_argument('--out', default=None, help='also write the result as JSON here')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value pairs')
    return p.parse_args(argv)


def main(argv=None):
    ignore_stack_noise()
    args = parse_args(argv)
    result = frame_order_gap(args.config, args.checkpoint, args.ann_file, args.data_prefix,
                             args.num, args.seed, args.cfg_options)
    print(f"video masked-token accuracy on {result['ordered']['num_clips']} clips of "
          f'{args.ann_file}')
    for name in ('ordered', 'shuffled', 'context_swapped'):
        r = result[name]
        if r is not None:
            label = name.replace('_', ' ')
            print(f"  {label:<16} {r['acc']:6.2f} %   loss {r['loss']:.4f}")
    print(f"  gap              {result['gap']:+6.2f} points (ordered - shuffled)")
    if result['context_gap'] is not None:
        print(f"  context gap      {result['context_gap']:+6.2f} points (ordered - context "
              'swapped: what the unmasked frames add)')
    base = result['baselines']
    print(f"copy baselines on the same {base['num_tokens']} masked tokens: most common code "
          f"{base['most_common_code']:.2f} %, same cell of the nearest unmasked frame "
          f"{base['nearest_unmasked_frame']:.2f} %")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(dict(result, config=args.config, checkpoint=args.checkpoint,
                           ann_file=args.ann_file, seed=args.seed), f, indent=2)
    return result


if __name__ == '__main__':
    main()
