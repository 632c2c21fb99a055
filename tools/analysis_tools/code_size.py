"""List the largest files and functions of the package.

Usage::

    python tools/analysis_tools/code_size.py [--top 10] \
        [--max-file-lines 350] [--max-func-lines 80] [--check] [ROOT]

Files are measured in lines; functions and methods (nested ones too,
named by their qualified name, e.g. ``LLMHead.generate``) in the lines
from their ``def`` to their last line, found with :mod:`ast`. ``ROOT``
defaults to the ``mmmrmllm`` package. With ``--check`` the exit status is 1
when a file or a function not in :data:`ALLOWLIST` is over its limit.
"""
import argparse
import ast
import os
import os.path as osp
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_DIR = osp.join(ROOT, 'mmmrmllm')

# Files or functions allowed over the limits, with the reason. Keys are a
# file's path relative to the measured folder (``models/mrmllm.py``) or
# ``path:qualified.name`` for one function.
ALLOWLIST: Dict[str, str] = {
    'models/mrmllm.py':
    'the joint model: its wiring (about 200 lines) and its whole forward '
    'pass as named steps, from the detector features to the losses and '
    'answers (about 400 lines), in one class so that a reader follows one '
    "file; its class docstring (the steps' diagram and the 15 grouped "
    'arguments) about 90 lines. Stateless helpers live in their own '
    "modules: the constructor's groups (mrmllm_args.py), detections and "
    "the pass's state (perception_pass.py), sequence assembly, wiring, "
    'frozen-state checkpoints and instruction-aware queries.',
}


class Item(NamedTuple):
    """One measured file or function.

    Attributes:
        name (str): ``path`` or ``path:qualified.name``, relative to the
            measured folder.
        lines (int): Its length in lines.
    """
    name: str
    lines: int


def python_files(root: str) -> List[str]:
    """Every ``.py`` file below ``root``, sorted.

    Args:
        root (str): A folder.

    Returns:
        list[str]: Absolute paths.
    """
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith('.') and d != '__pycache__')
        out += [osp.join(folder, f) for f in sorted(files)
                if f.endswith('.py')]
    return out


def _functions(tree: ast.AST, prefix: str = '') -> List[Item]:
    """Every function below ``tree`` with its qualified name and length."""
    out = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + node.name
            out.append(Item(name, node.end_lineno - node.lineno + 1))
            out += _functions(node, name + '.')
        elif isinstance(node, ast.ClassDef):
            out += _functions(node, prefix + node.name + '.')
        else:
            out += _functions(node, prefix)
    return out


def measure(root: str):
    """Lengths of the files and functions below ``root``.

    Args:
        root (str): A folder.

    Returns:
        tuple[list[Item], list[Item]]: Files and functions, each longest
        first (ties by name).
    """
    files, funcs = [], []
    for path in python_files(root):
        rel = osp.relpath(path, root).replace(os.sep, '/')
        with open(path, encoding='utf-8') as f:
            text = f.read()
        files.append(Item(rel, len(text.splitlines())))
        funcs += [
            Item(f'{rel}:{fn.name}', fn.lines)
            for fn in _functions(ast.parse(text, filename=path))
        ]
    key = lambda item: (-item.lines, item.name)  # noqa: E731
    return sorted(files, key=key), sorted(funcs, key=key)


def over_limit(items: Sequence[Item], limit: int) -> List[Item]:
    """The items longer than ``limit`` and not in :data:`ALLOWLIST`."""
    return [i for i in items if i.lines > limit and i.name not in ALLOWLIST]


def _table(title: str, items: Sequence[Item], limit: int) -> str:
    lines = [f'{title} (limit {limit} lines):']
    for item in items:
        mark = ''
        if item.lines > limit:
            mark = '  ALLOWED: ' + ALLOWLIST[item.name] \
                if item.name in ALLOWLIST else '  OVER'
        lines.append(f'{item.lines:6d}  {item.name}{mark}')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('root', nargs='?', default=DEFAULT_DIR,
                   help='folder to measure (default: the mmmrmllm package)')
    p.add_argument('--top', type=int, default=10,
                   help='files and functions to list (default: 10)')
    p.add_argument('--max-file-lines', type=int, default=350)
    p.add_argument('--max-func-lines', type=int, default=80)
    p.add_argument('--check', action='store_true',
                   help='exit with status 1 when something is over a limit')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    files, funcs = measure(args.root)
    print(_table('Largest files', files[:args.top], args.max_file_lines))
    print()
    print(_table('Largest functions', funcs[:args.top],
                 args.max_func_lines))
    over = over_limit(files, args.max_file_lines) + over_limit(
        funcs, args.max_func_lines)
    if over:
        print()
        print(f'{len(over)} over the limits:')
        for item in over:
            print(f'{item.lines:6d}  {item.name}')
    return 1 if args.check and over else 0


if __name__ == '__main__':
    sys.exit(main())
