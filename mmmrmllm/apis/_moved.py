"""The old paths of the analyses, moved to :mod:`mmmrmllm.analysis`.

``mmmrmllm.apis.knowledge_probe`` (the function, and the module of that
name) and ``mmmrmllm.apis.counterfactual`` still work for one release:
each use warns and imports the analysis then, never when ``apis`` is
imported.
"""
import importlib
import types
import warnings

# old name under mmmrmllm.apis -> its module now
MOVED = dict(knowledge_probe='mmmrmllm.analysis.knowledge_probe',
             counterfactual='mmmrmllm.analysis.counterfactual')


def _moved(name: str) -> types.ModuleType:
    new = MOVED[name]
    warnings.warn(
        f'mmmrmllm.apis.{name} moved to {new}; the old path will be '
        'removed in the next release', DeprecationWarning, stacklevel=3)
    return importlib.import_module(new)


def __getattr__(name: str):
    """``mmmrmllm.apis.<name>``: the function ``knowledge_probe`` (as
    before) or the module ``counterfactual``."""
    if name == 'knowledge_probe':
        return _moved(name).knowledge_probe
    if name == 'counterfactual':
        return _moved(name)
    raise AttributeError(f"module 'mmmrmllm.apis' has no attribute {name!r}")


class MovedModule(types.ModuleType):
    """An old module path (``mmmrmllm.apis.<name>``): reading a name warns
    and reads it from the new module. Calling it calls the new module's
    function of the same name, since ``mmmrmllm.apis.knowledge_probe`` was
    also the function."""

    def __getattr__(self, attr: str):
        if attr.startswith('__'):  # asked by the import system, help()...
            raise AttributeError(attr)
        return getattr(_moved(self.__name__.rsplit('.', 1)[1]), attr)

    def __call__(self, *args, **kwargs):
        name = self.__name__.rsplit('.', 1)[1]
        return getattr(_moved(name), name)(*args, **kwargs)
