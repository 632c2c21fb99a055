"""docs/robustness.md: every case names a test that exists (issue 11)."""
import ast
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(ROOT, 'docs', 'robustness.md')
ROW = re.compile(r'^\| (\d+) \|.*\| `(tests/[^`:]+)::(\w+)'
                 r'(?:\[([\w-]+)\])?` \|$')


def _strings(node):
    """The string constants of a list / tuple literal, else None."""
    if isinstance(node, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str)
            for e in node.elts):
        return {e.value for e in node.elts}
    return None


def _params(tree, func):
    """The parametrize ids ``func`` can take: its decorator's ``ids``, its
    literal string values, or the keys of the module-level dict they name
    (``sorted(CASES)``)."""
    dicts = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            keys = {k.value for k in node.value.keys
                    if isinstance(k, ast.Constant)}
            for target in node.targets:
                if isinstance(target, ast.Name):
                    dicts[target.id] = keys
    ids = set()
    for node in tree.body:
        if not (isinstance(node, ast.FunctionDef) and node.name == func):
            continue
        for dec in node.decorator_list:
            if not (isinstance(dec, ast.Call) and isinstance(
                    dec.func, ast.Attribute)
                    and dec.func.attr == 'parametrize'):
                continue
            named = {k.arg: k.value for k in dec.keywords}
            values = named.get('ids', dec.args[1] if len(dec.args) > 1
                               else named.get('argvalues'))
            if isinstance(values, ast.Call) and values.args:
                values = values.args[0]  # sorted(CASES), list(CASES)
            if isinstance(values, ast.Name):
                ids |= dicts.get(values.id, set())
            else:
                ids |= _strings(values) or set()
    return ids


def test_params_are_the_named_tests_own():
    tree = ast.parse(
        'CASES = {"a": 1, "b": 2}\n'
        'OTHER = {"c": 3}\n'
        '@pytest.mark.parametrize("case", sorted(CASES))\n'
        'def test_x(case): pass\n'
        '@pytest.mark.parametrize("case", ["d", "e"])\n'
        'def test_y(case): pass\n'
        '@pytest.mark.parametrize("n", [1, 2], ids=["one", "two"])\n'
        'def test_z(n): pass\n'
        'def test_w(): pass\n')
    assert _params(tree, 'test_x') == {'a', 'b'}
    assert _params(tree, 'test_y') == {'d', 'e'}
    assert _params(tree, 'test_z') == {'one', 'two'}
    assert _params(tree, 'test_w') == set()


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
            assert param in _params(tree, func), \
                f'{path}::{func}[{param}]'
