"""Import direction: the data side and the visualizer import neither the
models nor the engine; both sides share mmmrmllm.text."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

CODE = r"""
import sys
import mmmrmllm.datasets
import mmmrmllm.visualization
from mmmrmllm.datasets.cornershapes import TEXT_PROMPT, CornerShapesText
from mmmrmllm.datasets.cornershapes.tokenizer_corpus import tokenizer_corpus
from mmmrmllm.text import DetectionPromptGenerator

text = CornerShapesText(DetectionPromptGenerator(**TEXT_PROMPT),
                        corrupt_prob=1.0)
assert text[0]['perception'].startswith('Counts: ')
corpus = tokenizer_corpus(('circle', 'square'), {}, num_scenes=2)
assert 'top-left' in corpus and 'Question: ' in corpus[-1]
print(sorted({m.split('.')[1] for m in sys.modules
              if m.startswith('mmmrmllm.')}))
"""


def test_data_and_visualization_import_no_models_or_engine():
    out = subprocess.run([sys.executable, '-c', CODE], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = out.stdout.split('\n')[-2]
    assert "'models'" not in loaded and "'engine'" not in loaded, loaded
    assert "'text'" in loaded and "'datasets'" in loaded, loaded


def test_old_model_paths_still_export_the_shared_pieces():
    from mmmrmllm import text
    from mmmrmllm.models.llm import train_subword_tokenizer
    from mmmrmllm.models.perception import PerceptionPromptGenerator
    from mmmrmllm.models.perception.gt_perception import corrupt_objects
    from mmmrmllm.models.perception.prompt_generator import GRID_WORDS
    assert train_subword_tokenizer is text.train_subword_tokenizer
    assert PerceptionPromptGenerator is text.PerceptionPromptGenerator
    assert corrupt_objects is text.corrupt_objects
    assert GRID_WORDS is text.GRID_WORDS


def test_quadrants_and_corpus_template_come_from_one_definition():
    from mmmrmllm.datasets.cornershapes.questions import QUADRANTS
    from mmmrmllm.models.llm import LLMHead
    from mmmrmllm.text import GRID_WORDS, text_sequence_template
    rows, cols = GRID_WORDS[2]
    assert QUADRANTS == tuple(f'{r}-{c}' for r in rows for c in cols)
    assert QUADRANTS == ('top-left', 'top-right', 'bottom-left',
                         'bottom-right')
    import inspect
    params = inspect.signature(LLMHead).parameters
    template = params['prompt_template'].default
    prefix = params['answer_prefix'].default
    assert text_sequence_template() == template.replace(
        '<image>', '') + prefix + '{answer}'
    assert text_sequence_template().format(
        perception='P. ', question='Q?', answer='A') == \
        'P. Question: Q? Answer: A'


# The package's layers, lowest first: a module imports, at module level,
# only its own subpackage and those of lower layers (an import inside a
# function, e.g. ``register_all_modules``, is not bound by this).
LAYERS = (('version', 'registry'), ('utils', ), ('structures', 'text'),
          ('datasets', 'evaluation', 'visualization'), ('models', ),
          ('engine', ), ('apis', ), ('analysis', ))


def module_level_imports(path, package):
    """The ``mmmrmllm`` modules that a file imports at module level."""
    import ast
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = package.rsplit('.', node.level - 1)[0]
                base = f'{parent}.{base}' if base else parent
            yield base


def test_no_package_imports_a_higher_layer():
    import glob
    level = {name: i for i, names in enumerate(LAYERS) for name in names}
    pkg_dir = osp.join(ROOT, 'mmmrmllm')
    subpackages = {osp.splitext(osp.basename(p.rstrip('/')))[0]
                   for p in glob.glob(osp.join(pkg_dir, '*'))
                   if not p.endswith(('__init__.py', '__pycache__'))}
    # every subpackage has its place (configs holds no library code)
    assert subpackages - {'configs'} == set(level), sorted(subpackages)
    for path in glob.glob(osp.join(pkg_dir, '**', '*.py'), recursive=True):
        rel = osp.relpath(path, ROOT)[:-3].split(osp.sep)
        if rel[1] in ('configs', '__init__'):
            continue
        package = '.'.join(rel if rel[-1] == '__init__' else rel[:-1])
        package = package.replace('.__init__', '')
        for name in module_level_imports(path, package):
            parts = name.split('.')
            if parts[0] != 'mmmrmllm' or len(parts) < 2 or \
                    parts[1] == rel[1]:
                continue
            assert level[parts[1]] < level[rel[1]], \
                f'{"/".join(rel)}.py imports {name}: a higher layer'
