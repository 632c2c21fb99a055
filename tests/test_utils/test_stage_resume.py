"""Stage 1c killed (SIGKILL) after a checkpoint, run again: it resumes in
its partial folder (not from scratch), its generated image stream goes on
where it stopped, and it ends with the weights of an uninterrupted run."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
ENV = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1',
           HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1')


def tiny_llm(path):
    """What the language stage leaves: a Llama directory and tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from mmmrmllm.models.llm import train_subword_tokenizer
    tok = train_subword_tokenizer(
        ['Question: how many circles are there? Answer: two', 'yes', 'no',
         'what colour is the square? red green blue'] * 5, 128, path)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=128, hidden_size=32, intermediate_size=64,
        num_hidden_layers=1, num_attention_heads=2,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id)).save_pretrained(path)
    return path


def stage(cache, llm, kill_after=0):
    return subprocess.run(
        [sys.executable, osp.join(HERE, 'stage_resume_worker.py'), cache,
         llm, str(kill_after)], cwd=ROOT, env=ENV, capture_output=True,
        text=True, timeout=600)


def record_of(res):
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    line = [ln for ln in res.stdout.splitlines() if ln.startswith('RECORD')]
    return json.loads(line[-1][len('RECORD '):])


@pytest.mark.slow
def test_stage_1c_killed_resumes_to_the_uninterrupted_weights(tmp_path):
    from mmmrmllm.models.mllm_directory import read_state_dict
    llm = tiny_llm(str(tmp_path / 'llm'))
    killed_cache = str(tmp_path / 'killed')
    res = stage(killed_cache, llm, kill_after=3)
    assert res.returncode == -9, res.stderr[-3000:]
    partial = [d for d in os.listdir(killed_cache)
               if d.endswith('.partial')]
    assert len(partial) == 1
    assert sorted(f for f in os.listdir(osp.join(killed_cache, partial[0]))
                  if f.endswith('.pth')) == ['iter_2.pth']
    resumed = record_of(stage(killed_cache, llm))
    assert resumed['resumed_from_iter'] == 2 and not resumed['cached']
    # the second attempt trained iterations 3 and 4 only
    logs = sorted(glob.glob(osp.join(killed_cache, '*', '2*', '2*.log')))
    assert len(logs) == 2
    with open(logs[1]) as f:
        log = f.read()
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [1/4]' not in log and 'Iter(train) [3/4]' in log
    whole = record_of(stage(str(tmp_path / 'whole'), llm))
    assert whole['resumed_from_iter'] is None
    assert whole['key'] == resumed['key']
    ours = read_state_dict(resumed['outputs']['hf_instructblip'])
    theirs = read_state_dict(whole['outputs']['hf_instructblip'])
    assert set(ours) == set(theirs)
    differ = [k for k in ours if not (ours[k] == theirs[k]).all()]
    assert not differ, differ[:5]
