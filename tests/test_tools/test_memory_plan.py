"""tools/analysis_tools/memory_plan.py and gpu_check.py (CPU, small)."""
import json
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'analysis_tools')
sys.path.insert(0, TOOLS)
# every part trained, 1-layer towers, 64-px images
TINY = osp.join(ROOT, 'tests', 'data', 'configs', 'mrmllm_tiny_cli.py')

import gpu_check  # noqa: E402
import memory_plan  # noqa: E402

# the byte tokenizer (no tokenizer files needed) has 259 tokens
OPTIONS = ['--cfg-options', 'model.llm.model_cfg.vocab_size=259',
           'model.fusion.vocab_size=259']


def _plan(*extra):
    return memory_plan.plan(memory_plan.parse_args([TINY, *extra,
                                                    *OPTIONS]))


def test_states_are_sharded_by_fsdp_only():
    ddp = _plan('--strategy', 'ddp', '--gpus', '4', '--no-activations')
    fsdp = _plan('--strategy', 'fsdp', '--gpus', '4', '--no-activations')
    parts = {r['part']: r for r in ddp['parts']}
    assert {'detector', 'vision_encoder', 'fusion', 'llm'} <= set(parts)
    # the tiny config trains everything: weights + fp32 grad + 2 moments
    llm = parts['llm']
    assert llm['trained'] == llm['params'] > 0
    assert llm['train_bytes'] == 12 * llm['trained']
    assert fsdp['states_per_gpu_bytes'] == pytest.approx(
        ddp['states_per_gpu_bytes'] / 4)
    assert 'weights + gradients + optimizer' in memory_plan.format_plan(ddp)


def test_activations_are_measured_and_scaled(tmp_path):
    out = tmp_path / 'plan.json'
    memory_plan.main([TINY, '--batch', '2', '--seq-len', '16',
                      '--det-size', '64', '64', '--json', str(out),
                      *OPTIONS])
    plan = json.loads(out.read_text())
    acts = plan['activations']
    assert set(acts) == {'llm', 'vision_encoder', 'fusion', 'detector'}
    for part, a in acts.items():
        (k, _), (one, two) = a['layers'], a['measured']
        assert two >= one, part
        assert a['scaled'] == int(one + (two - one) * (a['depth'] / k - 1))
    # trained parts keep activations; the tiny config trains every part
    assert acts['detector']['measured'][0] > 0
    assert acts['llm']['measured'][0] > 0
    assert plan['activation_per_gpu_bytes'] == 2 * sum(
        a['scaled'] for a in acts.values())
    text = memory_plan.format_plan(plan)
    assert 'MEASURED' in text and 'SCALED' in text


def test_gpu_check_smoke_writes_its_record(tmp_path):
    plan = tmp_path / 'plan.json'
    plan.write_text(json.dumps(dict(total_per_gpu_bytes=123, config='c',
                                    strategy='ddp', gpus=1, batch=2)))
    out = tmp_path / 'check.json'
    gpu_check.main(['--smoke', '--steps', '2', '--out', str(out),
                    '--plan', str(plan)])
    rec = json.loads(out.read_text())
    assert rec['smoke'] and len(rec['step_times_s']) == 2
    assert rec['plan_prediction_bytes'] == 123
    assert 0 < rec['trained_params'] < rec['params']


def test_documented_plan_is_the_tools_output():
    """The documented plan (docs/scale.md): its parameter rows are what the
    tool prints for the paper config now (the activation rows need the
    6-minute CPU measurement: docs/scale.md has the command)."""
    paper = osp.join(ROOT, 'configs', 'mrmllm_dino_vicuna.py')
    text = memory_plan.format_plan(memory_plan.plan(memory_plan.parse_args(
        [paper, '--gpus', '8', '--strategy', 'fsdp', '--no-activations'])))
    rows = [ln for ln in text.splitlines() if ln.startswith('|')]
    with open(osp.join(ROOT, 'docs', 'scale.md')) as f:
        doc = f.read()
    start = doc.index('### Stage 2 (the entry point), FSDP on 8 GPUs')
    section = doc[start:doc.index('\n### ', start + 1)]
    for row in rows:
        assert row in section, row
