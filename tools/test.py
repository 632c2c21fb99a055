"""Evaluate a checkpoint: COCO detection, corner-case recall and VQA.

Mirrors mmdet's ``tools/test.py``; the metrics come from the config's
``test_evaluator``.
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
from mmmrmllm.utils.checkpoint import check_checkpoint_matches  # noqa: E402
from mmmrmllm.utils.compat import finish_distributed, setup_cpu_distributed  # noqa: E402
from mmmrmllm.utils.config import (  # noqa: E402
    ConfigError,
    check_config,
    for_inference,
    load_config,
)
from mmmrmllm.utils.errors import exit_on_user_error  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) an MR-MLLM model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. If specified, '
        'it will be automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--split',
        help="evaluate the config's `<SPLIT>_dataset` with its "
        '`<SPLIT>_evaluator` instead of its test set (e.g. corner, '
        'val_phrasing on CornerShapes)')
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


def use_split(cfg: Config, split: str) -> None:
    """Test on the config's ``<split>_dataset`` with ``<split>_evaluator``
    (``val_evaluator`` if it has none: a split of val's images, such as
    ``val_phrasing``)."""
    key = f'{split}_dataset'
    if key not in cfg:
        named = sorted(k[:-len('_dataset')] for k in cfg.keys()
                       if k.endswith('_dataset')
                       and isinstance(cfg[k], dict))
        raise ConfigError(f'--split {split}: the config has no `{key}`; '
                          f'its splits: {named}')
    cfg.test_dataloader.dataset = cfg[key]
    cfg.test_evaluator = cfg.get(f'{split}_evaluator', cfg.val_evaluator)


def build_config(args) -> Config:
    if not osp.isfile(args.checkpoint):
        raise ConfigError(f'checkpoint not found: {args.checkpoint}')
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
    cfg.load_from = args.checkpoint
    if args.split is not None:
        use_split(cfg, args.split)
    # the checkpoint holds the weights: init-only inputs only if needed
    for_inference(cfg)

    if args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            raise ConfigError('--show-dir needs a `visualization` hook in '
                              '`default_hooks`')
        hooks.visualization.draw = True
        hooks.visualization.test_out_dir = args.show_dir

    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ConfigError('--out must be a .pkl file')
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, dict) and 'metrics' in evaluator:
            # an Evaluator config: add the dump to its metrics
            metrics = evaluator['metrics']
            metrics = list(metrics) if isinstance(metrics,
                                                  (list, tuple)) else [metrics]
            evaluator['metrics'] = metrics + [dump]
        elif isinstance(evaluator, (list, tuple)):
            cfg.test_evaluator = list(evaluator) + [dump]
        else:
            cfg.test_evaluator = [evaluator, dump]
    return cfg


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
        if isinstance(runner.model, torch.nn.Module):
            # MMEngine only warns about keys that do not fit: refuse a
            # checkpoint of another model instead of testing random weights
            check_checkpoint_matches(runner.model, args.checkpoint)
        return runner

    # a wrong config value, a checkpoint of another model, a bad record
    # met inside the loop, ...: one ``error:`` line
    runner = exit_on_user_error(build)
    exit_on_user_error(runner.test)
    finish_distributed()


if __name__ == '__main__':
    main()
