"""``mmmrmllm.apis`` is inference only: the analyses live in
``mmmrmllm.analysis``; their old paths under ``apis`` still work, warn, and
are imported only when used."""
import ast
import glob
import importlib
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
APIS = osp.join(ROOT, 'mmmrmllm', 'apis')


def imported_modules(path):
    """``(absolute module, at module level)`` of every import in a file."""
    tree = ast.parse(open(path).read())
    package = 'mmmrmllm.apis'
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = package.rsplit('.', node.level - 1)[0]
                base = f'{parent}.{base}' if base else parent
            names = [base] + [f'{base}.{a.name}' for a in node.names]
        else:
            continue
        for name in names:
            yield name, id(node) in top


def test_no_module_under_apis_imports_the_generator_or_the_analyses():
    files = glob.glob(osp.join(APIS, '**', '*.py'), recursive=True)
    assert len(files) >= 4, files
    for path in files:
        for name, top in imported_modules(path):
            assert not name.startswith('mmmrmllm.datasets.cornershapes'), \
                (path, name)
            assert not name.startswith('mmmrmllm.datasets') or \
                not top, (path, name)
            assert not name.startswith('mmmrmllm.analysis'), (path, name)


def test_importing_apis_loads_no_analysis_nor_dataset():
    code = ('import sys, mmmrmllm.apis; print(sorted(m for m in '
            'sys.modules if m.startswith("mmmrmllm.")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = out.stdout.strip()
    assert 'mmmrmllm.apis.inferencer' in loaded, loaded
    assert 'mmmrmllm.analysis' not in loaded, loaded
    assert 'mmmrmllm.datasets' not in loaded, loaded


def test_old_analysis_paths_warn_and_work():
    import mmmrmllm.analysis as analysis
    from mmmrmllm.analysis import counterfactual, knowledge_probe
    with pytest.warns(DeprecationWarning, match='mmmrmllm.analysis'):
        from mmmrmllm.apis import knowledge_probe as old_probe
    assert old_probe is analysis.knowledge_probe
    with pytest.warns(DeprecationWarning, match='apis.counterfactual'):
        from mmmrmllm.apis import counterfactual as old_module
    assert old_module is sys.modules['mmmrmllm.analysis.counterfactual']
    with pytest.warns(DeprecationWarning, match='apis.knowledge_probe'):
        from mmmrmllm.apis.knowledge_probe import LinearProbe, pool_boxes
    assert LinearProbe is analysis.LinearProbe
    assert pool_boxes is analysis.pool_boxes
    with pytest.warns(DeprecationWarning, match='apis.counterfactual'):
        from mmmrmllm.apis.counterfactual import recolour_counterfactual
    assert recolour_counterfactual is counterfactual.recolour_counterfactual
    assert callable(knowledge_probe)


def test_old_function_path_still_calls_after_the_old_module_import(
        monkeypatch):
    """Importing ``mmmrmllm.apis.knowledge_probe`` as a module makes it the
    package's attribute; calling that still runs the probe, as when the
    name was the function."""
    import mmmrmllm.apis as apis
    import mmmrmllm.apis.knowledge_probe  # noqa: F401 - warns when used
    module = importlib.import_module('mmmrmllm.analysis.knowledge_probe')
    assert isinstance(apis.knowledge_probe, type(module))
    monkeypatch.setattr(module, 'knowledge_probe', lambda m, **kw: (m, kw))
    with pytest.warns(DeprecationWarning):
        assert apis.knowledge_probe('model', seed=1) == ('model',
                                                         dict(seed=1))
    with pytest.raises(AttributeError, match='no attribute'):
        apis.no_such_name
