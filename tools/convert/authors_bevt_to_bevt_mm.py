"""Convert the authors' released BEVT checkpoint to a bevt_mm ``BEVT`` checkpoint.

Usage:
    python tools/convert/authors_bevt_to_bevt_mm.py AUTHORS.pth OUT.pth

The output holds ``backbone.*`` (BEVTSwinTransformer3D) and ``head.*``
(BEVTHead) keys; load it with ``load_from=OUT.pth`` to continue pretraining, or
convert it further with ``bevt_to_mmaction_swin.py`` for fine-tuning.
"""
import argparse

from bevt_mm.utils.checkpoint import convert_authors_bevt, read_checkpoint, write_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help="authors' checkpoint")
    parser.add_argument('dst', help='output checkpoint')
    args = parser.parse_args()
    write_state_dict(convert_authors_bevt(read_checkpoint(args.src)), args.dst,
                     converted_from=args.src, converter='authors_bevt_to_bevt_mm')


if __name__ == '__main__':
    main()
