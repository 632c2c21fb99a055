"""What ``tools/train.py`` and ``tools/test.py`` share: their common flags,
the config they start from, and building and running the Runner.

A tool adds its own flags and config changes around these::

    parser = argparse.ArgumentParser(description='...')
    parser.add_argument('config', help='config file path')
    add_runner_args(parser, work_dir_help='...')
    args = parse_runner_args(parser)
    run_with_runner(args, build_config, check=None, mode='train')
"""
import argparse
import os
import os.path as osp
from typing import Callable, Optional, Sequence

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmmrmllm.registry import RUNNERS

from .compat import finish_distributed, setup_cpu_distributed
from .config import check_config, load_config
from .errors import exit_on_user_error
from .setup_env import register_all_modules


def add_runner_args(parser: argparse.ArgumentParser,
                    work_dir_help: str) -> None:
    """Add ``--work-dir``, ``--cfg-options``, ``--launcher`` and
    ``--local-rank`` (mmdet's flags of the same names).

    Args:
        parser (ArgumentParser): The tool's parser.
        work_dir_help (str): Help text of ``--work-dir``.
    """
    parser.add_argument('--work-dir', help=work_dir_help)
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


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[Sequence[str]] = None):
    """Parse ``argv`` and set ``LOCAL_RANK`` from ``--local-rank`` unless
    the launcher set it."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_runner_config(args) -> Config:
    """The config of ``args.config`` with the common flags applied.

    ``--cfg-options`` keys are checked (an unknown key is a
    :class:`ConfigError`, not a silent new key); the work directory is
    ``--work-dir``, else the config's, else ``./work_dirs/<config name>``.

    Args:
        args (Namespace): Parsed by a parser with :func:`add_runner_args`.

    Returns:
        Config: The config, ``launcher`` and ``work_dir`` set.
    """
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
    return cfg


def build_runner(cfg: Config, launcher: str):
    """The config's Runner: ``runner_type`` if set (e.g. a FlexibleRunner
    with an FSDP / DeepSpeed strategy), else MMEngine's ``Runner``; a CPU
    ``pytorch`` launch gets its process group first."""
    setup_cpu_distributed(cfg, launcher)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def run_with_runner(args,
                    build_config: Callable[[object], Config],
                    check: Optional[Callable] = None,
                    mode: str = 'train') -> None:
    """Register the modules, build the config and the Runner, run it.

    A user error (a wrong config value, a missing weights directory, a
    checkpoint of another model, a bad record met inside the loop, ...)
    while building or running ends the tool with one ``error:`` line.

    Args:
        args (Namespace): The tool's parsed flags (``launcher`` among them).
        build_config (Callable): ``args`` -> the Runner's config.
        check (Callable, optional): ``(runner, cfg)`` -> None, run once the
            Runner is built (e.g. refuse a checkpoint of another model).
            Defaults to None.
        mode (str): The Runner's method to run, ``'train'`` or ``'test'``.
            Defaults to ``'train'``.
    """
    register_all_modules(init_default_scope=False)

    def build():
        cfg = build_config(args)
        runner = build_runner(cfg, args.launcher)
        if check is not None:
            check(runner, cfg)
        return runner

    runner = exit_on_user_error(build)
    exit_on_user_error(getattr(runner, mode))
    finish_distributed()


__all__ = [
    'add_runner_args', 'parse_runner_args', 'load_runner_config',
    'build_runner', 'run_with_runner'
]
