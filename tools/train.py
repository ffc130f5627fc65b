"""Train a BEVT model (or any MMAction2 model) with an mmengine Runner.

Usage:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options key=value ...] [--launcher {none,pytorch,slurm,mpi}]

Same arguments as MMAction2's ``tools/train.py``; additionally it imports
``bevt_mm`` (registration + crash fixes) and picks the ``gloo`` backend
when there is no GPU, so distributed runs work on CPU.
"""
import argparse
import os

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import bevt_mm  # noqa: F401  (registers BEVT types, applies the crash fixes)
from bevt_mm.engine import check_load_from, merge_train_args
from bevt_mm.utils.stack_warnings import ignore_stack_noise, quiet_stack_logs
from mmaction.registry import RUNNERS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a BEVT / MMAction2 model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a path, resume from the latest '
        'checkpoint in the work directory, or (none there yet) start from the '
        "config's load_from; the first log line 'Start: ...' names the file")
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision: fp16 with loss scaling on CUDA '
                        '(AmpOptimWrapper), bf16 autocast on CPU (CPUAmpOptimWrapper); '
                        'weights stay fp32')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by actual / base batch size (auto_scale_lr in the config)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--diff-rank-seed', action='store_true',
                        help='different seeds for different ranks')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic options for the CUDNN backend')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs, e.g. '
        'model.backbone.pretrained=ckpt.pth train_dataloader.batch_size=4')
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
    cfg = merge_train_args(Config.fromfile(args.config), args)
    if not cfg.get('resume', False):
        check_load_from(cfg)  # before anything is built: say how to start from scratch
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    quiet_stack_logs(runner.logger)
    runner.train()


if __name__ == '__main__':
    main()
