"""Export a BEVT TimeSformer pretraining checkpoint as a stock MMAction2 TimeSformer backbone.

Usage:
    python tools/convert/bevt_timesformer_to_mmaction.py BEVT.pth OUT.pth
        [--num-frames 16] [--prefix backbone.]

Then fine-tune with MMAction2's divided space-time TimeSformer recipe (or
configs/bevt/finetune_timesformer_b_k400.py):
    --cfg-options load_from=OUT.pth model.backbone.pretrained=None
The keys carry the ``backbone.`` prefix by default, as ``load_from`` (and
``init_cfg=dict(type='Pretrained', prefix='backbone.')``) expect. Do not use the
stock ``model.backbone.pretrained=``: stock TimeSformer treats that file as a
ViT and copies every ``attentions.0`` (temporal) weight over ``attentions.1``
(spatial), destroying the pretrained spatial attention. ``--prefix ''`` writes
bare keys (e.g. for ``BEVTTimeSformer(pretrained=...)``, which loads either).
"""
import argparse

from bevt_mm.utils.checkpoint import (bevt_to_mmaction_timesformer, read_checkpoint,
                                     write_state_dict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--num-frames', type=int, default=None,
                        help='frames of the fine-tuning recipe if they differ from '
                        'pretraining: time_embed is interpolated linearly')
    parser.add_argument('--prefix', default='backbone.',
                        help="key prefix (default 'backbone.', for load_from)")
    args = parser.parse_args()
    sd = bevt_to_mmaction_timesformer(read_checkpoint(args.src), args.num_frames)
    write_state_dict({args.prefix + k: v for k, v in sd.items()}, args.dst, converted_from=args.src,
                     converter='bevt_to_mmaction_timesformer')


if __name__ == '__main__':
    main()
