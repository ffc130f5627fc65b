#!/usr/bin/env python
"""Label-scarce fine-tuning: a recognizer trained on a few labeled videos per class.

:func:`few_per_class` writes the first ``n`` videos of each class of a
``path label`` list; :func:`label_scarce_top1` fine-tunes a recognizer config
on it (from an exported backbone, or from scratch) for a fixed number of
epochs with mmengine's runner and returns top-1 on the val list.
``demo/toy_ablation.py`` and ``demo/toy_demo.py`` use both.

Example (a list of 8 labeled videos per class)::

    python demo/label_scarce.py data/toy/spatial/train_list.txt \
        work_dirs/lists/spatial_8_per_class.txt --per-class 8
"""
import argparse

from bevt_mm.analysis.label_scarce import few_per_class
from bevt_mm.utils.stack_warnings import ignore_stack_noise


def main(argv=None) -> str:
    ignore_stack_noise()
    p = argparse.ArgumentParser(description='write the first N videos of every class of a list')
    p.add_argument('ann_file', help='labeled list (path label)')
    p.add_argument('out', help='list to write')
    p.add_argument('--per-class', type=int, default=8)
    args = p.parse_args(argv)
    out = few_per_class(args.ann_file, args.out, args.per_class)
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
