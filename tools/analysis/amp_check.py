#!/usr/bin/env python
"""A few mixed-precision training steps of a BEVT config, judged.

:func:`amp_training_check` builds the config's model (tokenizer random when
its file is absent) and trains it ``iters`` steps on one fixed batch (random
pixels, the config's masks; ``bevt_mm.analysis.step_setup.make_batch``)
with the config's optimizer. On CUDA the optimizer wrapper is mmengine's
``AmpOptimWrapper`` in the given dtype (dynamic loss scaling, as the
recipe); elsewhere ``AmpOptimWrapper`` is not available, so a plain
``OptimWrapper`` runs the step inside ``torch.autocast``. On a fixed batch a
working step must drive the loss down. :func:`judge_amp_run` states what
passed.
"""
import argparse

from bevt_mm.analysis.amp import DTYPES, amp_training_check
from bevt_mm.utils.stack_warnings import ignore_stack_noise


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='a few mixed-precision training steps, judged')
    p.add_argument('config', help='BEVT pretraining config, e.g. configs/toy/toy_joint_swin.py')
    p.add_argument('--amp', default='bf16', choices=list(DTYPES))
    p.add_argument('--device', default='cpu', help='cpu (default) or cuda')
    p.add_argument('--iters', type=int, default=10, help='training steps on one fixed batch')
    p.add_argument('--batch-videos', type=int, default=None)
    p.add_argument('--batch-images', type=int, default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    ignore_stack_noise()
    args = parse_args(argv)
    res = amp_training_check(args.config, args.amp, args.device, args.iters,
                             args.batch_videos, args.batch_images)
    print(f"{res['wrapper']} {res['amp']} on {res['device']}, {res['iters']} steps: losses "
          + ' '.join(f'{x:.3f}' for x in res['losses']))
    print(f"finite {res['finite']}, falling {res['falling']}, loss scale ok {res['scale_ok']}: "
          f"{'passed' if res['passed'] else 'FAILED'}")
    for note in res['notes']:
        print(f'note: {note}')
    return 0 if res['passed'] else 1


if __name__ == '__main__':
    raise SystemExit(main())
