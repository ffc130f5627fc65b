"""Convert a 2D Swin checkpoint (original or mmpretrain layout) to BEVT weights.

Usage:
    python tools/convert/swin2d_to_bevt.py SWIN2D.pth OUT.pth [--joint]
        [--window-size 8 7 7] [--patch-size 2 4 4]

Without ``--joint`` the output initializes the image stream (2D patch weights in
``backbone.patch_embed_2d``, relative tables repeated over temporal offsets);
with ``--joint`` the 2D patch weights are also inflated into the 3D patch
embedding. Either way relative tables are resized when windows differ. Use it
as ``load_from`` or through ``model.backbone.pretrained=SWIN2D.pth
model.backbone.pretrained2d=True``, which does the same conversion on the fly.
"""
import argparse

from bevt_mm.utils.checkpoint import (image_to_joint, swin2d_to_bevt, read_checkpoint,
                                     write_state_dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--joint', action='store_true', help='also inflate to the 3D patch embed')
    parser.add_argument('--window-size', type=int, nargs=3, default=(8, 7, 7))
    parser.add_argument('--patch-size', type=int, nargs=3, default=(2, 4, 4))
    args = parser.parse_args()
    sd = image_to_joint(swin2d_to_bevt(read_checkpoint(args.src)), args.window_size,
                        args.patch_size)
    if not args.joint:
        sd = {k: v for k, v in sd.items() if not k.startswith('patch_embed.')}
    write_state_dict({f'backbone.{k}': v for k, v in sd.items()}, args.dst, converted_from=args.src,
                     converter='swin2d_to_bevt', joint=args.joint)


if __name__ == '__main__':
    main()
