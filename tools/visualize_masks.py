#!/usr/bin/env python
"""Picture of BEVT's tube mask (a clip) and block mask (an image), and of the
frames rebuilt from predicted tokens.

One video and one image (the first entry of each dataset's ann_file, or
--video / --image) go through the pipelines of CONFIG's train_dataloader with
a fixed seed, so the masks are the ones the config's transforms draw. The PNG
shows the clip's frames, the same frames with the masked token cells tinted
and outlined, then the image and its block mask.

With --checkpoint (a BEVT checkpoint of tools/train.py with CONFIG) it also
prints the masked-token accuracy of this sample per stream and, when the
tokenizer can decode ids (our VQVAETokenizer can; DALL-E and VQ-KD cannot),
adds two rows: the tokenizer's reconstruction of its own ids, and the frames
rebuilt from the model's predicted ids at masked positions (tokenizer ids at
visible ones). The decoder comes from the tokenizer file
(model.target_generator.checkpoint); the BEVT checkpoint holds the tokenizer's
encoder and codebook but not its decoder, so without the file the picture
has the mask rows and the accuracy only.

Example::

    python tools/visualize_masks.py configs/bevt/toy_joint_swin.py \\
        --checkpoint work_dirs/toy/pretrain/epoch_4.pth --out work_dirs/toy/masks.png
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from bevt_mm.analysis.mask_visualization import visualize_masks  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Draw the tube/block masks of a BEVT pretraining config (and, with a '
        'checkpoint, the frames rebuilt from predicted tokens) into a PNG')
    p.add_argument('config', help='BEVT pretraining config, e.g. configs/bevt/toy_joint_swin.py')
    p.add_argument('--checkpoint', default=None,
                   help='BEVT checkpoint (tools/train.py with this config): adds the '
                   'masked-token accuracy and, if the tokenizer decodes, the token rows')
    p.add_argument('--video', default=None,
                   help='video file (default: the first entry of the video ann_file)')
    p.add_argument('--image', default=None,
                   help='image file (default: the first entry of the image ann_file)')
    p.add_argument('--out', default=None,
                   help='PNG to write (default: work_dirs/masks/<config name>.png)')
    p.add_argument('--seed', type=int, default=None,
                   help="seed before each pipeline (default: the config's randomness.seed)")
    p.add_argument('--scale', type=int, default=None,
                   help='display magnification (default: frames shown at >= 128 px)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value pairs (e.g. '
                   'model.target_generator.checkpoint=PATH, '
                   'train_dataloader.dataset.datasets.0.ann_file=PATH)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or osp.join('work_dirs', 'masks',
                               osp.splitext(osp.basename(args.config))[0] + '.png')
    result = visualize_masks(args.config, out, checkpoint=args.checkpoint, video=args.video,
                             image=args.image, seed=args.seed, cfg_options=args.cfg_options,
                             scale=args.scale)
    for name, s in result['streams'].items():
        line = f'{name}: {s["path"]} ({s["num_masked"]} masked token positions)'
        if s.get('accuracy') is not None:
            line += (f'; masked-token accuracy of this sample {s["accuracy"]:.1f}% '
                     f'({s["num_correct"]}/{s["num_masked"]})')
        print(line)
    for note in result['notes']:
        print(f'note: {note}')
    print(f'wrote {result["out"]} ({result["size"][0]}x{result["size"][1]}, seed '
          f'{result["seed"]})')
    return result


if __name__ == '__main__':
    main()
