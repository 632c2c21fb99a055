"""The ``mmmrmllm`` modules a config runs, found statically.

A training stage is cached by what it runs (``mmmrmllm.utils.stages``), so
an edit to a module it never uses (the web demo's inferencer, the POPE
evaluation, a tool) keeps it cached and an edit to one it uses retrains it.
The modules it uses are the closure, from

* the top-level package (its import patches libraries and checks the
  environment, so every stage runs it),
* the module of every registered type the config names (``type='X'`` as a
  string looked up in the registries, or a class in a pure-Python config),
  the module of the adapter that serves each library class it names (a
  detector's adapter is picked by the detector's class, not by name) and
  every module in its ``custom_imports``,

over these edges out of a module's source (anywhere in it, function
bodies included):

* ``import`` / ``from ... import`` of package code, resolved to the module
  that defines the imported name (``from mmmrmllm.models import X`` leads
  to X's module, not to every module ``mmmrmllm/models/__init__.py``
  re-exports),
* a string literal equal to the registered name of one of the package's
  types (``MODELS.build(dict(type='X'))`` in code) or to a module's
  dotted name.

A subpackage's ``__init__.py`` runs when anything inside it is imported, so
it counts, but its own imports only re-export and register and are not
followed (a test keeps these files free of other code). Stage training is
checked against this by tracing which package functions a short run of
each stage calls (``tests/test_utils/test_code_deps.py``).
"""
import ast
import hashlib
import importlib
import inspect
import os.path as osp
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Set

PACKAGE = 'mmmrmllm'
PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
# config files, not modules: a stage's config is hashed as text
SKIPPED = (f'{PACKAGE}.configs', )


def module_file(name: str, package_dir: str = PACKAGE_DIR) -> Optional[str]:
    """The source file of package module ``name`` (None if there is
    none)."""
    if name != PACKAGE and not name.startswith(PACKAGE + '.') or \
            name.startswith(SKIPPED):
        return None
    parts = name.split('.')[1:]
    base = osp.join(package_dir, *parts)
    for path in (base + '.py', osp.join(base, '__init__.py')):
        if osp.isfile(path):
            return path
    return None


def _is_package(name: str, package_dir: str) -> bool:
    path = module_file(name, package_dir)
    return path is not None and osp.basename(path) == '__init__.py'


def _parse(name: str, package_dir: str) -> ast.Module:
    with open(module_file(name, package_dir), 'rb') as f:
        return ast.parse(f.read(), filename=module_file(name, package_dir))


def _absolute(module: str, level: int, base: Optional[str],
              package_dir: str) -> str:
    """``from <level dots><module> import`` inside package module
    ``base``, made absolute."""
    if not level:
        return module or ''
    parts = base.split('.')
    if not _is_package(base, package_dir):
        parts = parts[:-1]
    parts = parts[:len(parts) - (level - 1)]
    return '.'.join(parts + ([module] if module else []))


@lru_cache(maxsize=None)
def registered_names() -> Dict[str, frozenset]:
    """Registered name → the package modules that define a type of that
    name (in any of the package's registries)."""
    from mmmrmllm.registry import all_registries
    names: Dict[str, set] = {}
    for registry in all_registries():
        registry.import_from_location()
        for key, obj in registry.module_dict.items():
            mod = getattr(obj, '__module__', '') or ''
            if mod == PACKAGE or mod.startswith(PACKAGE + '.'):
                names.setdefault(key, set()).add(mod)
    return {k: frozenset(v) for k, v in names.items()}


def _defining(base: str, name: str, package_dir: str,
              seen: Optional[Set] = None) -> List[str]:
    """The package module(s) that define ``name`` imported from ``base``
    (a submodule named so, a class' or function's own module, or the
    module where a re-exported constant is assigned)."""
    sub = f'{base}.{name}'
    if module_file(sub, package_dir):
        return [sub]
    obj = getattr(importlib.import_module(base), name, None)
    if inspect.isclass(obj) or inspect.isroutine(obj):
        mod = getattr(obj, '__module__', '') or ''
        if mod.startswith(PACKAGE) and module_file(mod, package_dir):
            return [mod]
    if not _is_package(base, package_dir):
        return [base]
    # a constant re-exported by a package: follow its __init__'s imports
    seen = seen or set()
    if (base, name) in seen:
        return [base]
    seen.add((base, name))
    for node in ast.walk(_parse(base, package_dir)):
        if isinstance(node, ast.ImportFrom):
            src = _absolute(node.module, node.level, base, package_dir)
            for alias in node.names:
                if (alias.asname or alias.name) == name and \
                        src.startswith(PACKAGE):
                    return _defining(src, alias.name, package_dir, seen)
    return [base]


@lru_cache(maxsize=None)
def _edges(name: str, package_dir: str, digest: str) -> frozenset:
    """The package modules that module ``name`` uses (``digest``: its
    source's hash, so an edited file is parsed again)."""
    out: Set[str] = set()
    tree = _parse(name, package_dir)
    names = registered_names()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = _absolute(node.module, node.level, name, package_dir)
            if not src.startswith(PACKAGE):
                continue
            out.add(src)
            for alias in node.names:
                if alias.name != '*':
                    out.update(_defining(src, alias.name, package_dir))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names
                       if a.name.startswith(PACKAGE))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.update(names.get(node.value, ()))
            if node.value.startswith(PACKAGE + '.') and module_file(
                    node.value, package_dir):
                out.add(node.value)
    return frozenset(m for m in out if module_file(m, package_dir))


def _file_digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def config_types(cfg) -> list:
    """The classes and functions a config names by ``type`` (strings looked
    up in the package's registries and, through them, the libraries'),
    and the package modules in its ``custom_imports``."""
    from mmmrmllm.registry import all_registries
    found: list = []
    registries = all_registries()

    def add_type(value):
        if isinstance(value, str):
            for registry in registries:
                obj = registry.get(value)
                if obj is not None:
                    found.append(obj)
                    return
        elif inspect.isclass(value) or inspect.isroutine(value):
            found.append(value)

    def visit(node):
        if isinstance(node, dict):
            for key, val in node.items():
                if key == 'type':
                    add_type(val)
                visit(val)
        elif isinstance(node, (list, tuple)):
            for val in node:
                visit(val)

    visit(cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg)
    return found


def _served_by(types: Iterable) -> Set[str]:
    """The package modules that serve the library classes among ``types``
    through a table filled at import and looked up by class, not by name:
    the detector adapters (``register_detector_adapter``)."""
    from mmmrmllm.models.det_adapters.base import adapter_class
    out = set()
    for obj in types:
        if inspect.isclass(obj):
            adapter = adapter_class(obj)
            if adapter is not None:
                out.add(adapter.__module__)
    return out


def config_roots(cfg) -> Set[str]:
    """The package modules a config names: those of its registered types
    (and of the adapters serving them) and its ``custom_imports``."""
    types = config_types(cfg)
    roots = {getattr(t, '__module__', '') or '' for t in types}
    roots |= _served_by(types)
    custom = cfg.get('custom_imports') or {}
    imports = custom.get('imports', []) if isinstance(custom, dict) else []
    roots.update([imports] if isinstance(imports, str) else imports)
    return {r for r in roots if r.startswith(PACKAGE)}


def used_modules(roots: Iterable[str],
                 package_dir: Optional[str] = None) -> Set[str]:
    """The closure of ``roots`` (plus the top-level package) over the
    edges above, with the ``__init__`` of every package on the way
    (``package_dir``: the package's source folder, by default this
    one's)."""
    package_dir = package_dir or PACKAGE_DIR
    todo = [PACKAGE] + [r for r in roots if module_file(r, package_dir)]
    seen: Set[str] = set()
    inits: Set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split('.')
        # a package's __init__ runs on import; its imports are not followed
        inits.update('.'.join(parts[:i]) for i in range(1, len(parts)))
        if name != PACKAGE and _is_package(name, package_dir):
            continue
        path = module_file(name, package_dir)
        todo.extend(_edges(name, package_dir, _file_digest(path)) - seen)
    return {m for m in seen | inits if module_file(m, package_dir)}


def code_files(cfg, package_dir: Optional[str] = None) -> Dict[str, str]:
    """The source files a config runs → their SHA-256, paths relative to
    the package's parent folder (``mmmrmllm/models/...``)."""
    package_dir = package_dir or PACKAGE_DIR
    out = {}
    for name in sorted(used_modules(config_roots(cfg), package_dir)):
        path = module_file(name, package_dir)
        rel = osp.relpath(path, osp.dirname(package_dir))
        out[rel.replace(osp.sep, '/')] = _file_digest(path)
    return out
