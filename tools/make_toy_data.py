#!/usr/bin/env python
"""Generate the toy datasets (images, toy-spatial and toy-temporal videos).

Example::

    python tools/make_toy_data.py --out data/toy --seed 0

See ``bevt_mm/testing/toy_data.py`` for what each set contains.
"""
import argparse
import os.path as osp

from bevt_mm.testing.toy_data import make_toy_data


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Write deterministic toy data for bevt_mm.')
    p.add_argument('--out', default='data/toy', help='output root (default: data/toy)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--size', type=int, default=64, help='video frame side in pixels (even)')
    p.add_argument('--image-size', type=int, default=None,
                   help='image side in pixels (default: --size)')
    p.add_argument('--frames', type=int, default=16, help='frames per video')
    p.add_argument('--fps', type=int, default=8)
    p.add_argument('--images', type=int, nargs=2, default=[400, 100], metavar=('TRAIN', 'VAL'))
    p.add_argument('--spatial', type=int, nargs=2, default=[200, 80], metavar=('TRAIN', 'VAL'))
    p.add_argument('--temporal', type=int, nargs=2, default=[200, 80], metavar=('TRAIN', 'VAL'))
    p.add_argument('--photo-fraction', type=float, default=0.25,
                   help='fraction of images cropped from scikit-image sample photos')
    p.add_argument('--workers', type=int, default=1,
                   help='processes that render and encode the videos (same files as 1)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    meta = make_toy_data(args.out, seed=args.seed, size=args.size, num_frames=args.frames,
                         image_size=args.image_size, num_images=tuple(args.images),
                         num_spatial=tuple(args.spatial), num_temporal=tuple(args.temporal),
                         photo_fraction=args.photo_fraction, fps=args.fps,
                         workers=args.workers)
    print(f"wrote toy data to {args.out} in {meta['seconds']:.1f} s")
    for name in ('images', 'spatial', 'temporal'):
        train, val = meta['counts'][name]
        print(f"  {name:9s} train {train:4d} val {val:4d}  classes: "
              f"{', '.join(meta['classes'][name])}")
        for split, path in meta['lists'][name].items():
            print(f'    {split}: {path}')
    print(f"  details: {osp.join(args.out, 'README.md')}, {osp.join(args.out, 'meta.json')}")
    return meta


if __name__ == '__main__':
    main()
