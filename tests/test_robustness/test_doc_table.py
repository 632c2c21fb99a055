"""docs/robustness.md: every case names a test that exists (issue 11)."""
import ast
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(ROOT, 'docs', 'robustness.md')
ROW = re.compile(r'^\| (\d+) \|.*\| `(tests/[^`:]+)::(\w+)'
                 r'(?:\[([\w-]+)\])?` \|$')


def _params(tree):
    """The literal parametrize ids / CASES keys a test can take."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            ids.update(k.value for k in node.keys
                       if isinstance(k, ast.Constant)
                       and isinstance(k.value, str))
    return ids


def test_every_case_has_an_existing_test():
    rows = [ROW.match(line) for line in open(DOC) if line.startswith('| ')
            and not line.startswith(('| #', '|---'))]
    assert all(rows), [line for line, m in zip(open(DOC), rows) if not m]
    numbers = [int(m.group(1)) for m in rows]
    assert numbers == list(range(1, len(rows) + 1))
    assert len(rows) >= 40
    for m in rows:
        path, func, param = m.group(2), m.group(3), m.group(4)
        source = open(osp.join(ROOT, path)).read()
        tree = ast.parse(source)
        names = {n.name for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef)}
        assert func in names, f'{path}::{func} (case {m.group(1)})'
        if param:
            assert param in _params(tree), f'{path}::{func}[{param}]'
