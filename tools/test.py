"""Test (and evaluate) a model with an mmengine Runner.

Usage:
    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump results.pkl]
        [--cfg-options key=value ...] [--launcher {none,pytorch,slurm,mpi}]

Same arguments as MMAction2's ``tools/test.py`` (without the display
options); imports ``bevt_mm`` and uses ``gloo`` when there is no GPU.
"""
import argparse
import os

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import bevt_mm  # noqa: F401  (registers BEVT types, applies the crash fixes)
from bevt_mm.engine import merge_test_args
from bevt_mm.utils.stack_warnings import ignore_stack_noise, quiet_stack_logs
from mmaction.registry import RUNNERS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a BEVT / MMAction2 model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--dump', type=str,
                        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    ignore_stack_noise()
    args = parse_args()
    cfg = merge_test_args(Config.fromfile(args.config), args)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    quiet_stack_logs(runner.logger)
    runner.test()


if __name__ == '__main__':
    main()
