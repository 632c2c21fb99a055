"""Config helpers shared by the tools."""
from mmengine.config import Config


class ConfigError(ValueError):
    """A user-facing config problem; tools print it as one line."""


def check_config(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` keys that do not exist in the config.

    MMEngine's ``merge_from_dict`` silently adds unknown keys, so a typo
    (``optim_wraper.optimizer.lr=1``) would train with the default. Keys are
    dotted paths; list indices are numbers (``a.0.b``).

    Args:
        cfg (Config): The loaded config.
        options (dict): Dotted key -> value, as parsed by ``DictAction``.

    Raises:
        ConfigError: naming the first unknown key and what exists there.
    """
    for key in options:
        node = getattr(cfg, '_cfg_dict', cfg)
        walked = []
        for part in key.split('.'):
            if isinstance(node, (list, tuple)) and part.isdigit() \
                    and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                where = '.'.join(walked) or 'the config'
                known = sorted(node.keys()) if isinstance(node, dict) else []
                hint = f'; keys there: {", ".join(known)}' if known else ''
                raise ConfigError(f'unknown config key {key!r}: no {part!r} '
                                  f'in {where}{hint}')
            walked.append(part)
