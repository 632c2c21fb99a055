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
