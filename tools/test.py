"""Evaluate a checkpoint: COCO detection, corner-case recall and VQA.

Mirrors mmdet's ``tools/test.py``; the metrics come from the config's
``test_evaluator``.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmrmllm.utils.checkpoint import check_checkpoint_matches  # noqa: E402
from mmmrmllm.utils.config import ConfigError, for_inference  # noqa: E402
from mmmrmllm.utils.runner_setup import (  # noqa: E402
    add_runner_args,
    load_runner_config,
    parse_runner_args,
    run_with_runner,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) an MR-MLLM model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
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
    add_runner_args(
        parser,
        work_dir_help='the directory to save the file containing evaluation '
        'metrics')
    return parse_runner_args(parser, argv)


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
    cfg = load_runner_config(args)
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


def check_checkpoint(runner, cfg) -> None:
    """Refuse a checkpoint of another model: MMEngine only warns about keys
    that do not fit, and would test random weights."""
    if isinstance(runner.model, torch.nn.Module):
        check_checkpoint_matches(runner.model, cfg.load_from)


def main():
    run_with_runner(parse_args(), build_config, check_checkpoint, 'test')


if __name__ == '__main__':
    main()
