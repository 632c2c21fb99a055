"""Aliases of renamed names, kept for one release; each warns when used."""
import warnings
from typing import Optional


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` (a module, class or config key) is now ``new``.

    Args:
        old (str): The deprecated name.
        new (str): The name to use instead.
        stacklevel (int): As :func:`warnings.warn`. Defaults to 3.
    """
    warnings.warn(
        f'{old} is deprecated and will be removed in the next release; '
        f'use {new}', DeprecationWarning, stacklevel=stacklevel)


def renamed_class(new_cls: type, old_name: str,
                  old_path: Optional[str] = None) -> type:
    """A subclass of ``new_cls`` named ``old_name`` that warns when built,
    so configs and code naming the old class keep working.

    Args:
        new_cls (type): The class under its new name.
        old_name (str): The class's old name.
        old_path (str, optional): Where the old name was imported from,
            for the message. Defaults to None.

    Returns:
        type: The alias class (same parameters and state-dict keys).
    """
    old = f'{old_path}.{old_name}' if old_path else old_name

    def __init__(self, *args, **kwargs):
        warn_renamed(old, new_cls.__name__)
        new_cls.__init__(self, *args, **kwargs)

    return type(
        old_name, (new_cls, ), {
            '__init__': __init__,
            '__doc__': f'Deprecated alias of :class:`{new_cls.__name__}`.',
            '__module__': new_cls.__module__
        })
