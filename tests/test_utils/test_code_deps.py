"""The package modules a stage config runs (its cache key's code part)."""
import ast
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmmrmllm.utils import code_deps
from mmmrmllm.utils.code_deps import code_files, config_roots, used_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGES = dict(
    detector='dino_r18_1xb8_250i_cornershapes_det.py',
    language='llama_4l_1xb12_2500i_cornershapes_text.py',
    mllm='instructblip_llama_4l_1xb32_2000i_cornershapes_vl.py')
# run by no stage: the web demo's inferencer, POPE, the counterfactual
# and knowledge-probe analyses
NOT_RUN = ('mmmrmllm/apis/inferencer.py', 'mmmrmllm/datasets/pope.py',
           'mmmrmllm/evaluation/functional/pope.py',
           'mmmrmllm/evaluation/metrics/pope_metric.py',
           'mmmrmllm/analysis/counterfactual.py',
           'mmmrmllm/analysis/knowledge_probe.py',
           'mmmrmllm/utils/stages.py')


def stage_cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs', 'pretrain',
                                    STAGES[name]))


@pytest.fixture(scope='module')
def files():
    return {name: code_files(stage_cfg(name)) for name in STAGES}


def test_each_stage_runs_its_own_parts(files):
    det, lm, mllm = files['detector'], files['language'], files['mllm']
    # the model of each stage, through its string type in the config
    assert 'mmmrmllm/models/mrmllm.py' in det
    assert 'mmmrmllm/models/det_adapters/detr.py' in det
    assert 'mmmrmllm/models/language_pretrainer.py' in lm
    assert 'mmmrmllm/models/language_pretrainer.py' not in det
    assert 'mmmrmllm/models/fusion/qformer_layers.py' in mllm
    # data, losses, hooks and what they import
    assert 'mmmrmllm/models/llm/llm_head.py' in lm
    assert 'mmmrmllm/datasets/cornershapes/text_dataset.py' in lm
    assert 'mmmrmllm/engine/hooks/instructblip_export_hook.py' in mllm
    # the top-level package's import runs the environment check and the
    # library patches in every stage
    for got in files.values():
        assert {'mmmrmllm/__init__.py', 'mmmrmllm/utils/compat.py',
                'mmmrmllm/utils/check_env.py'} <= set(got)


@pytest.mark.parametrize('path', NOT_RUN)
def test_no_stage_runs_the_analysis_and_serving_code(files, path):
    assert osp.isfile(osp.join(ROOT, path))
    for name, got in files.items():
        assert path not in got, name


def test_hashes_are_the_files_content(files):
    import hashlib
    for rel, digest in files['detector'].items():
        with open(osp.join(ROOT, rel), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest


def test_a_registered_name_in_code_counts(tmp_path):
    """``MODELS.build(dict(type='X'))`` in a module uses X's module, and a
    class in a pure-Python config counts like its string name."""
    from mmmrmllm.models.llm import LLMHead
    pkg = tmp_path / 'mmmrmllm'
    for path in glob.glob(osp.join(code_deps.PACKAGE_DIR, '**', '*.py'),
                          recursive=True):
        rel = osp.relpath(path, code_deps.PACKAGE_DIR)
        if rel.startswith('configs'):
            continue
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_bytes(open(path, 'rb').read())
    user = 'mmmrmllm.utils.errors'
    before = used_modules([user], str(pkg))
    assert 'mmmrmllm.models.llm.llm_head' not in before
    with open(pkg / 'utils' / 'errors.py', 'a') as f:
        f.write("\n\ndef build_head():\n    return dict(type='LLMHead')\n")
    assert 'mmmrmllm.models.llm.llm_head' in used_modules([user], str(pkg))
    roots = config_roots(Config(dict(model=dict(type=LLMHead))))
    assert roots == {'mmmrmllm.models.llm.llm_head'}


def test_package_inits_only_import_and_reexport():
    """A subpackage's ``__init__`` runs whenever anything inside it is
    imported; its imports are not followed, which is only sound while it
    runs nothing else (the top-level one is followed)."""
    inits = glob.glob(osp.join(code_deps.PACKAGE_DIR, '*', '**',
                               '__init__.py'), recursive=True)
    assert len(inits) > 10
    for path in inits:
        if '/configs/' in path:
            continue
        tree = ast.parse(open(path).read())
        for node in tree.body:
            docstring = isinstance(node, ast.Expr) and isinstance(
                getattr(node, 'value', None), ast.Constant)
            exports = isinstance(node, (ast.Assign, ast.AugAssign)) and \
                all(getattr(t, 'id', None) == '__all__'
                    for t in getattr(node, 'targets', [node.target]
                                     if hasattr(node, 'target') else []))
            assert docstring or exports or isinstance(
                node, (ast.Import, ast.ImportFrom)), \
                f'{path}:{node.lineno} runs code on import'


def _load_demo():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'demo_for_code_deps', osp.join(ROOT, 'tools', 'demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def _traced_files(run):
    """The package's source files whose code ``run()`` executes (every
    thread of this process)."""
    import sys
    import threading
    seen = set()

    def profile(frame, event, arg):
        if event == 'call':
            seen.add(frame.f_code.co_filename)

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    root = code_deps.PACKAGE_DIR
    return {osp.relpath(f, osp.dirname(root)).replace(osp.sep, '/')
            for f in seen if f.startswith(root + osp.sep)}


@pytest.mark.slow
def test_stage_training_runs_no_module_outside_its_key(tmp_path):
    """Each stage, trained (``--smoke`` sizes, data loaded in the main
    process so that its transforms are traced too), executes code of no
    package file that its key leaves out."""
    demo = _load_demo()
    data = str(tmp_path / 'data')
    demo.ensure_data(data, demo.SMOKE_SIZES)
    lm_dir = None
    for name in ('detector', 'language', 'mllm'):
        cfg = stage_cfg(name)
        demo.set_data_root(cfg, data)
        demo.shrink(cfg)
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(key):
                cfg[key].num_workers = 0
                cfg[key].persistent_workers = False
        if name == 'mllm':
            cfg.model.llm.name_or_path = lm_dir
        cfg.work_dir = str(tmp_path / name)
        keyed = set(code_files(cfg))
        ran = _traced_files(lambda: demo.train(cfg))
        assert len(ran) > 10, ran
        assert ran <= keyed, f'stage {name} ran {sorted(ran - keyed)}'
        lm_dir = osp.join(cfg.work_dir, 'hf_model')
