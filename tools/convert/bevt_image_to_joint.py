"""Turn an image-stream BEVT checkpoint into the joint image+video initialization.

Usage:
    python tools/convert/bevt_image_to_joint.py IMAGE_STREAM.pth OUT.pth
        [--window-size 8 7 7] [--patch-size 2 4 4] [--src-window-size D H W]

2D patch weights are copied to the 2D embedding and inflated to 3D (repeated
over time / temporal patch size); relative tables are reduced to their
temporal-distance-0 slice, resized bicubically if windows differ and repeated
over the 2*Wd-1 temporal offsets; the head is kept. Use the output as
``load_from`` of the joint pretraining config.
"""
import argparse

from bevt_mm.utils.checkpoint import image_to_joint_checkpoint, read_checkpoint, write_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--window-size', type=int, nargs=3, default=(8, 7, 7))
    parser.add_argument('--patch-size', type=int, nargs=3, default=(2, 4, 4))
    parser.add_argument('--src-window-size', type=int, nargs=3, default=None,
                        help='window of the image-stream model (inferred if omitted)')
    args = parser.parse_args()
    sd = image_to_joint_checkpoint(read_checkpoint(args.src), args.window_size, args.patch_size,
                                   args.src_window_size)
    write_state_dict(sd, args.dst, converted_from=args.src, converter='bevt_image_to_joint')


if __name__ == '__main__':
    main()
