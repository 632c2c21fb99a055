import pytest
from mmengine.config import Config

from mmmrmllm.utils.config import ConfigError, check_config, load_config


def test_known_keys_pass():
    cfg = Config(dict(a=dict(b=1), c=[dict(d=2)]))
    check_config(cfg, {'a.b': 3, 'c.0.d': 4})


@pytest.mark.parametrize('key,part', [('a.x', 'x'), ('q', 'q'),
                                      ('c.5.d', '5')])
def test_unknown_key_is_named(key, part):
    cfg = Config(dict(a=dict(b=1), c=[dict(d=2)]))
    with pytest.raises(ConfigError, match=f"no '{part}'"):
        check_config(cfg, {key: 1})


def test_arguments_of_the_configured_class_are_accepted():
    """Keys the docs tell users to set, absent from the config, pass when
    they are arguments of the configured class (its bases included where
    ``**kwargs`` passes them on); typos do not."""
    cfg = Config(dict(
        model=dict(type='MRMLLM', variant='joint'),
        data=dict(type='MRMLLMCocoDataset', ann_file='a.json'),
        plain=dict(x=1)))
    check_config(cfg, {'model.detector_checkpoint': 'det.pth',
                       'data.skip_invalid': True,   # DropCountMixin
                       'data.filter_cfg': None,     # mmengine BaseDataset
                       'data.backend_args': None})  # mmdet CocoDataset
    for key, part in (('data.skip_invalidd', 'skip_invalidd'),
                      ('model.detectr_checkpoint', 'detectr_checkpoint'),
                      ('plain.y', 'y'),              # no type: no arguments
                      ('model.fusion.x', 'fusion')):  # only the last part
        with pytest.raises(ConfigError, match=f"no '{part}'"):
            check_config(cfg, {key: 1})


def test_group_keys_and_deprecated_keywords_are_accepted():
    """MRMLLM's group arguments take their keys whether or not the config
    spells the group; the previous release's flat keywords still pass."""
    cfg = Config(dict(model=dict(type='MRMLLM', couplings=dict(
        feedback=True))))
    check_config(cfg, {'model.couplings.box_tokens': False,  # group there
                       'model.mllm.pretrained': 'dir',       # group absent
                       'model.pretrained_mllm': 'dir',       # deprecated
                       'model.use_feedback': False})
    for key, part in (('model.couplings.feedbak', 'feedbak'),
                      ('model.mllm.pretrained_dir', 'mllm'),
                      ('model.mllm.pretrained.x', 'mllm'),
                      ('model.couplingz.feedback', 'couplingz')):
        with pytest.raises(ConfigError, match=f"no '{part}'"):
            check_config(cfg, {key: 1})


def test_custom_imports_are_honoured_in_pure_python_configs(
        tmp_path, monkeypatch):
    """MMEngine ignores custom_imports in a read_base()-style config; the
    tools' loader imports it (the module registers a class), and a module
    that cannot be imported is one config error naming the file."""
    (tmp_path / 'my_ext_mod.py').write_text(
        'from mmmrmllm.registry import METRICS\n'
        'from mmengine.evaluator import BaseMetric\n\n\n'
        '@METRICS.register_module()\n'
        'class MyExtMetric(BaseMetric):\n'
        '    def process(self, data_batch, data_samples): pass\n\n'
        '    def compute_metrics(self, results): return {}\n')
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        'from mmengine.config import read_base\n\n'
        'from mmengine.evaluator import Evaluator\n\n'
        "custom_imports = dict(imports=['my_ext_mod'])\n"
        "val_evaluator = dict(type=Evaluator, metrics=[])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from mmmrmllm.registry import METRICS
    assert METRICS.get('MyExtMetric') is None
    assert Config.fromfile(str(cfg_file)).custom_imports  # read, ignored
    assert METRICS.get('MyExtMetric') is None
    load_config(str(cfg_file))
    assert METRICS.get('MyExtMetric').__name__ == 'MyExtMetric'
    cfg_file.write_text(cfg_file.read_text().replace('my_ext_mod',
                                                     'no_such_mod'))
    with pytest.raises(ConfigError, match=r'cfg.py: custom_imports'):
        load_config(str(cfg_file))
