import pytest
from mmengine.config import Config

from mmmrmllm.utils.config import ConfigError, check_config


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
