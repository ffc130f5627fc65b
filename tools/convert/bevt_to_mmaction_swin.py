"""Export a BEVT pretraining checkpoint as a stock MMAction2 Video Swin backbone.

Usage:
    python tools/convert/bevt_to_mmaction_swin.py BEVT.pth OUT.pth
        [--window-size 16 7 7] [--src-window-size 8 7 7]
        [--norm3 decoder|fresh|backbone] [--prefix backbone.]

Then fine-tune with any MMAction2 Swin recipe:
    model.backbone.pretrained=OUT.pth model.backbone.pretrained2d=False
(keys without prefix, the default), or write ``--prefix backbone.`` and use
``init_cfg=dict(type='Pretrained', checkpoint=OUT.pth, prefix='backbone.')`` /
``load_from``. ``norm3`` defaults to the decoder norm, as the authors'
fine-tuning did (see ``bevt_to_mmaction_swin`` in bevt_mm.utils).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from ckpt_io import load, save  # noqa: E402

from bevt_mm.utils import bevt_to_mmaction_swin  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--src-window-size', type=int, nargs=3, default=(8, 7, 7),
                        help='window of the pretrained model (default 8 7 7)')
    parser.add_argument('--window-size', type=int, nargs=3, default=None,
                        help='window of the fine-tuning recipe if it differs (e.g. 16 7 7 '
                        'for SSv2): relative tables are resized trilinearly')
    parser.add_argument('--norm3', default='decoder', choices=('decoder', 'fresh', 'backbone'))
    parser.add_argument('--prefix', default='', help="key prefix, e.g. 'backbone.'")
    args = parser.parse_args()
    sd = bevt_to_mmaction_swin(load(args.src), args.src_window_size, args.norm3,
                               args.window_size)
    save({args.prefix + k: v for k, v in sd.items()}, args.dst, converted_from=args.src,
         converter='bevt_to_mmaction_swin', norm3=args.norm3)


if __name__ == '__main__':
    main()
