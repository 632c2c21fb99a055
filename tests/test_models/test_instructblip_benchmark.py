"""``benchmark.py --vs-transformers``: the toolkit's InstructBLIP inference
timed against transformers' ``generate`` on the same tiny directory, the
answers compared."""
import importlib.util
import math
import os.path as osp

import pytest
from test_instructblip_equivalence import save_tiny

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        'benchmark_vs_transformers',
        osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('image_tokens', [False, True],
                         ids=['legacy', 'image_tokens'])
def test_vs_transformers_on_a_tiny_directory(tmp_path, capsys,
                                             image_tokens):
    path = tmp_path / 'instructblip'
    save_tiny(path, 'instructblip', image_tokens)
    out = load_benchmark().main([
        '--vs-transformers', str(path), '--questions', '3', '--iters', '1',
        '--warmup', '0', '--max-new-tokens', '4', '--device', 'cpu'])
    # the same image, questions and greedy settings: the same answers,
    # one call per question and batched alike
    assert out['same_answers'] == dict(one=True, n_calls=True, n_batch=True)
    answers = out['answers']
    assert len(answers['toolkit_1']) == 1 and len(answers['toolkit_n']) == 3
    assert any(answers['toolkit_n'])
    for ratio in out['ratios'].values():
        assert math.isfinite(ratio) and ratio > 0
    text = capsys.readouterr().out
    assert 'toolkit / transformers per question: ' in text
    assert '3 questions on one image: toolkit ' in text
    assert 'VS_TRANSFORMERS {' in text


def test_a_config_or_a_directory_is_needed():
    with pytest.raises(SystemExit):
        load_benchmark().parse_args([])
