"""Config helpers shared by the tools."""
import inspect
from typing import Optional, Set

from mmengine.config import Config

from .errors import UserError


class ConfigError(UserError):
    """A user-facing config problem; tools print it as one line."""


def load_config(path: str) -> Config:
    """``Config.fromfile`` that honours ``custom_imports`` in every config.

    MMEngine imports ``custom_imports`` for classic configs only and
    ignores it in pure-Python (``read_base()``) configs; the tools import
    it for both, so a project registers its classes either way.

    Raises:
        ConfigError: If a listed module cannot be imported (unless
            ``allow_failed_imports=True``).
    """
    cfg = Config.fromfile(path)
    custom = cfg.get('custom_imports', None)
    if custom:
        from mmengine.utils import import_modules_from_strings
        custom = dict(custom)
        try:
            import_modules_from_strings(**custom)
        except ImportError as err:
            raise ConfigError(
                f'{path}: custom_imports: cannot import '
                f'{custom.get("imports")!r} ({err}); put the folder that '
                'holds the module on PYTHONPATH') from err
    return cfg


def _registries():
    from mmengine.registry import Registry

    import mmmrmllm.registry as reg
    return [v for v in vars(reg).values() if isinstance(v, Registry)]


def accepted_keys(type_) -> Optional[Set[str]]:
    """Keyword arguments a config ``type`` accepts, following ``**kwargs``
    up its base classes; None when the type cannot be resolved.

    Args:
        type_ (str | type | callable): A config's ``type`` value, e.g.
            ``'CocoDataset'``, ``'mmdet.DINO'`` or a class.
    """
    objs = []
    if isinstance(type_, str):
        for registry in _registries():
            try:
                obj = registry.get(type_)
            except Exception:  # a scope that is not installed, ...
                obj = None
            if obj is not None:
                objs.append(obj)
    elif callable(type_):
        objs.append(type_)
    if not objs:
        return None
    names: Set[str] = set()
    for obj in objs:
        chain = obj.__mro__ if inspect.isclass(obj) else (obj, )
        for owner in chain:
            fn = owner.__dict__.get('__init__') if inspect.isclass(
                owner) else owner
            if fn is None or fn is object.__init__:
                continue
            try:
                params = inspect.signature(fn).parameters.values()
            except (TypeError, ValueError):
                break
            names.update(p.name for p in params
                         if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                       p.KEYWORD_ONLY))
            if not any(p.kind == p.VAR_KEYWORD for p in params):
                break
    names.discard('self')
    return names


def check_config(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` keys that are neither in the config nor
    arguments of the class they configure.

    MMEngine's ``merge_from_dict`` silently adds unknown keys, so a typo
    (``optim_wraper.optimizer.lr=1``) would train with the default. A key
    absent from the config is accepted when it is the last part of the
    path and an argument of the parent's registered ``type`` (e.g.
    ``test_dataloader.dataset.skip_invalid=True`` for a dataset that
    takes ``skip_invalid``, ``model.detector_checkpoint=...``), its base
    classes included where ``**kwargs`` passes arguments on. Keys are
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
        parts = key.split('.')
        for i, part in enumerate(parts):
            if isinstance(node, (list, tuple)) and part.isdigit() \
                    and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                if i == len(parts) - 1 and isinstance(node, dict) and \
                        'type' in node:
                    accepted = accepted_keys(node['type'])
                    if accepted and part in accepted:
                        break
                where = '.'.join(walked) or 'the config'
                known = sorted(node.keys()) if isinstance(node, dict) else []
                hint = f'; keys there: {", ".join(known)}' if known else ''
                if isinstance(node, dict) and 'type' in node:
                    hint += (f'; nor is {part!r} an argument of '
                             f'{node["type"]!r}')
                raise ConfigError(f'unknown config key {key!r}: no {part!r} '
                                  f'in {where}{hint}')
            walked.append(part)


def for_inference(cfg: Config) -> Config:
    """Build ``cfg.model`` for inference from a checkpoint: models that
    take ``lazy_init_weights`` (:class:`MRMLLM`) then load their
    initialisation-only weights (``detector_checkpoint``, a pretrained
    directory's weights) only for the frozen keys a checkpoint lacks, so
    that a checkpoint holding every weight needs no other file.

    Args:
        cfg (Config): Changed in place.

    Returns:
        Config: ``cfg``.
    """
    model = cfg.get('model')
    if isinstance(model, dict) and 'lazy_init_weights' in (
            accepted_keys(model.get('type')) or ()):
        model['lazy_init_weights'] = True
    return cfg
