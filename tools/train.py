"""Train an MR-MLLM model (or one of its baselines) from a config.

Mirrors mmdet's ``tools/train.py``: all behaviour lives in the config.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmrmllm.utils.checkpoint import (  # noqa: E402
    CheckpointMismatchError,
    check_checkpoint_matches,
    read_checkpoint,
)
from mmmrmllm.utils.config import ConfigError  # noqa: E402
from mmmrmllm.utils.runner_setup import (  # noqa: E402
    add_runner_args,
    load_runner_config,
    parse_runner_args,
    run_with_runner,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train an MR-MLLM model')
    parser.add_argument('config', help='train config file path')
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
    add_runner_args(parser,
                    work_dir_help='the dir to save logs and models')
    return parse_runner_args(parser, argv)


def build_config(args) -> Config:
    cfg = load_runner_config(args)

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
    run_with_runner(parse_args(), build_config, check_start_weights, 'train')


if __name__ == '__main__':
    main()
