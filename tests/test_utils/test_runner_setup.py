"""The set-up tools/train.py and tools/test.py share."""
import argparse
import os
import os.path as osp

import pytest

from mmmrmllm.utils.config import ConfigError
from mmmrmllm.utils.runner_setup import (
    add_runner_args,
    load_runner_config,
    parse_runner_args,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'tests', 'data', 'configs', 'mrmllm_tiny_cli.py')


def parse(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_runner_args(parser, work_dir_help='where')
    return parse_runner_args(parser, [TINY, *argv])


def test_common_flags_and_work_dir(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse('--local-rank', '3', '--launcher', 'pytorch')
    assert os.environ['LOCAL_RANK'] == '3'
    cfg = load_runner_config(args)
    assert cfg.launcher == 'pytorch'
    assert cfg.work_dir == osp.join('./work_dirs', 'mrmllm_tiny_cli')
    cfg = load_runner_config(parse('--work-dir', 'here', '--cfg-options',
                                   'train_cfg.max_iters=3'))
    assert (cfg.work_dir, cfg.train_cfg.max_iters) == ('here', 3)


def test_an_unknown_option_is_refused():
    with pytest.raises(ConfigError, match='optim_wraper'):
        load_runner_config(parse('--cfg-options', 'optim_wraper.x=1'))


def test_train_and_test_tools_use_it():
    for tool in ('train.py', 'test.py'):
        text = open(osp.join(ROOT, 'tools', tool)).read()
        assert 'run_with_runner(' in text and 'load_runner_config(' in text
        assert 'merge_from_dict' not in text and 'Runner.from_cfg' not in text
