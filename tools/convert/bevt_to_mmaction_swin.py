"""Export a BEVT pretraining checkpoint as a stock MMAction2 Video Swin backbone.

Usage:
    python tools/convert/bevt_to_mmaction_swin.py BEVT.pth OUT.pth
        [--window-size 16 7 7] [--src-window-size 8 7 7]
        [--norm3 decoder|fresh|backbone] [--prefix backbone.]

The window of the pretrained model is read from its relative position tables
(``--src-window-size`` only where several windows fit them). Then fine-tune
with ``model.backbone.pretrained=OUT.pth`` (keys without prefix, the default;
docs/usage.md shows a stock MMAction2 Swin recipe), or write ``--prefix
backbone.`` for ``init_cfg=dict(type='Pretrained', checkpoint=OUT.pth,
prefix='backbone.')`` / ``load_from``. ``norm3`` defaults to the decoder
norm, as the authors' fine-tuning did (see
``bevt_mm.utils.checkpoint.bevt_to_mmaction_swin``).
"""
import argparse
import sys

from bevt_mm.utils.checkpoint import bevt_to_mmaction_swin, read_checkpoint, write_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--src-window-size', type=int, nargs=3, default=None,
                        help='window of the pretrained model (default: read from the '
                        'relative position tables)')
    parser.add_argument('--window-size', type=int, nargs=3, default=None,
                        help='window of the fine-tuning recipe if it differs (e.g. 16 7 7 '
                        'for SSv2): relative tables are resized trilinearly')
    parser.add_argument('--norm3', default='decoder', choices=('decoder', 'fresh', 'backbone'))
    parser.add_argument('--prefix', default='', help="key prefix, e.g. 'backbone.'")
    args = parser.parse_args()
    try:
        sd = bevt_to_mmaction_swin(read_checkpoint(args.src), args.src_window_size, args.norm3,
                                   args.window_size)
    except (KeyError, ValueError) as err:
        sys.exit(f'error: {args.src}: {err}')
    write_state_dict({args.prefix + k: v for k, v in sd.items()}, args.dst, converted_from=args.src,
                     converter='bevt_to_mmaction_swin', norm3=args.norm3)


if __name__ == '__main__':
    main()
