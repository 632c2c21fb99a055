"""Train an MR-MLLM model (or one of its baselines) from a config.

Mirrors mmdet's ``tools/train.py``: all behaviour lives in the config.
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmrmllm.registry import RUNNERS  # noqa: E402
from mmmrmllm.utils import register_all_modules  # noqa: E402
from mmmrmllm.utils.checkpoint import (  # noqa: E402
    CheckpointMismatchError,
    check_checkpoint_matches,
    read_checkpoint,
)
from mmmrmllm.utils.compat import finish_distributed, setup_cpu_distributed  # noqa: E402
from mmmrmllm.utils.config import ConfigError, check_config, load_config  # noqa: E402
from mmmrmllm.utils.errors import exit_on_user_error  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train an MR-MLLM model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args) -> Config:
    cfg = load_config(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        check_config(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in \
                cfg.auto_scale_lr:
            raise RuntimeError('`auto_scale_lr` with `base_batch_size` '
                               'must be in the config to scale the LR')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise ConfigError(f'--resume checkpoint not found: '
                              f'{args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def check_start_weights(runner, cfg) -> None:
    """Refuse a ``--resume`` / ``load_from`` file that cannot be used.

    MMEngine fails on a foreign resume file with ``KeyError: 'meta'`` and
    loads another model's weights into ``load_from`` with only an INFO
    line, then trains from scratch.
    """
    path = cfg.get('load_from')
    if not path or not isinstance(runner.model, torch.nn.Module) or \
            '://' in str(path):
        return
    if not osp.isfile(path):
        raise ConfigError(f'load_from checkpoint not found: {path}')
    if cfg.get('resume'):
        try:
            ckpt = read_checkpoint(path)
        except Exception as err:  # not a torch file, truncated, unsafe
            first = (str(err).strip().splitlines() or [''])[0]
            raise ConfigError(f'cannot read --resume checkpoint {path}: '
                              f'{type(err).__name__}: {first}') from err
        if not isinstance(ckpt, dict) or 'meta' not in ckpt or \
                'state_dict' not in ckpt:
            raise ConfigError(
                f'--resume {path} is not an MMEngine training checkpoint '
                "(no 'meta'/'state_dict'); to start from its weights use "
                f'--cfg-options load_from={path}')
        check_checkpoint_matches(runner.model, ckpt, name=path)
    else:
        # a start from other weights may leave parts new, but not most
        try:
            check_checkpoint_matches(runner.model, path, min_fraction=0.5)
        except CheckpointMismatchError as err:
            raise CheckpointMismatchError(
                f'{err}; to start only the detector from an mmdet '
                'checkpoint, set model.detector_checkpoint instead of '
                'load_from') from err


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)

    def build():
        cfg = build_config(args)
        setup_cpu_distributed(cfg, args.launcher)
        if 'runner_type' in cfg:
            # e.g. FlexibleRunner with an FSDP / DeepSpeed strategy
            runner = RUNNERS.build(cfg)
        else:
            runner = Runner.from_cfg(cfg)
        check_start_weights(runner, cfg)
        return runner

    # a wrong config value, a missing weights directory, a bad record met
    # inside the loop, ...: one ``error:`` line
    runner = exit_on_user_error(build)
    exit_on_user_error(runner.train)
    finish_distributed()


if __name__ == '__main__':
    main()
