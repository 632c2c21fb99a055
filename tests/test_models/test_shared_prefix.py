"""Questions about one image share the LLM's pass over their common prefix
(visual tokens, and the prompt up to the question); the answers, scores
included, are those of running every sequence whole."""
import copy

import pytest
import torch
from tiny_models import (
    llm_cfg,
    make_batch,
    make_sample,
    make_tokenizer,
    mrmllm_cfg,
)

from mmmrmllm.models.llm.generation import shared_prefixes
from mmmrmllm.registry import MODELS

QUESTIONS = ('how many circle ?', 'what colour is the square ?',
             'is there a triangle ?', 'which circle is on the left ?')
TEMPLATE = ('image : <image> detected objects : {perception} . question : '
            '{question} answer :')


@pytest.fixture(scope='module')
def tok(tmp_path_factory):
    return make_tokenizer(str(tmp_path_factory.mktemp('tok') / 'bos'))


def head(tok, layout, arch='llama'):
    torch.manual_seed(0)
    cfg = llm_cfg(arch, tok, token_layout=layout, prompt_template=TEMPLATE)
    # larger weights than HF's default init: answers that depend on the
    # prompt, so that a wrong position or key would show in them
    cfg['model_cfg']['initializer_range'] = 0.5
    return MODELS.build(cfg).eval()


def sequences(llm, per_image=(3, 1, 4)):
    """Images with several questions each (one with a single one), their
    perception texts of different lengths."""
    g = torch.Generator().manual_seed(1)
    visual, prompts = [], []
    for i, n in enumerate(per_image):
        v = torch.randn(3 + i, llm.hidden_size, generator=g)
        text = ' , '.join(['red circle left'] * (i + 1))
        enc, _ = llm.encode_image_prompts(QUESTIONS[:n], None, len(v),
                                          lambda drop, t=text: t, i + 1)
        visual += [v] * n
        prompts += enc
    return visual, prompts


def both(llm, visual, prompts, **kw):
    kw = dict(kw, return_dict_in_generate=True, output_scores=True)
    return [llm.generate_ids(visual, prompts, share_prefix=s, **kw)
            for s in (True, False)]


@pytest.mark.parametrize('layout', ['template', 'visual_first'])
@pytest.mark.parametrize('decoding', [dict(), dict(num_beams=3)])
def test_shared_prefix_answers_as_whole_sequences(tok, layout, decoding):
    llm = head(tok, layout)
    visual, prompts = sequences(llm)
    plan = shared_prefixes(visual, prompts)
    assert plan.group == [0, 0, 0, 1, 2, 2, 2, 2]
    # the shared part reaches past the visual tokens into the prompt
    assert plan.length[0] > len(prompts[0].prefix) + len(visual[0]) + 3
    shared, whole = both(llm, visual, prompts, max_new_tokens=6,
                         **decoding)
    assert shared.sequences.tolist() == whole.sequences.tolist()
    # not every question gets the same answer: they do read the rest
    assert len({tuple(r) for r in whole.sequences.tolist()}) > 3
    for a, b in zip(shared.scores, whole.scores):
        keep = torch.isfinite(b)
        assert torch.equal(keep, torch.isfinite(a))
        torch.testing.assert_close(a[keep], b[keep], rtol=1e-4, atol=1e-4)


def test_question_dependent_visual_tokens_share_nothing(tok):
    """InstructBLIP's Q-Former reads the question: each sequence's soft
    tokens differ, and they come first, so no prefix is shared."""
    llm = head(tok, 'visual_first')
    visual, prompts = sequences(llm, (3, ))
    visual = [v + 0.01 * i for i, v in enumerate(visual)]
    assert shared_prefixes(visual, prompts) is None
    shared, whole = both(llm, visual, prompts)
    assert shared.sequences.tolist() == whole.sequences.tolist()


def test_sampling_and_several_returned_sequences(tok):
    llm = head(tok, 'template')
    visual, prompts = sequences(llm, (2, 2))
    out = []
    for share in (True, False):
        torch.manual_seed(3)
        out.append(llm.generate_ids(visual, prompts, share_prefix=share,
                                    do_sample=True, num_return_sequences=2,
                                    max_new_tokens=5).tolist())
    assert out[0] == out[1] and len(out[0]) == 8


@pytest.mark.parametrize('layout', ['template', 'visual_first'])
def test_mrmllm_answer_with_and_without_the_shared_prefix(tok, layout):
    """The whole model: four questions per image, box tokens and the
    perception prompt in the shared prefix (``instruction_text`` off: the
    soft tokens are the image's own)."""
    cfg = mrmllm_cfg(tokenizer=tok)
    cfg['llm'].update(token_layout=layout, prompt_template=TEMPLATE)
    cfg['llm']['model_cfg']['initializer_range'] = 0.5
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    samples = [make_sample(i) for i in range(2)]
    for i, s in enumerate(samples):
        s.questions = list(QUESTIONS)
        s.gt_answers = [['two']] * 4
        s.question_types = ['counting'] * 4
        s.question_ids = [10 * i + j for j in range(4)]
    data = model.data_preprocessor(make_batch(copy.deepcopy(samples)),
                                   False)
    plans = []
    real = model.llm._generate_from_prefixes

    def spy(visual, prompts, plan, cfg):
        plans.append(plan)
        return real(visual, prompts, plan, cfg)

    model.llm._generate_from_prefixes = spy
    with torch.no_grad():
        state = model.perceive(data['inputs'], data['data_samples'])
        shared = model.answer(state, data['data_samples'])
        whole = model.answer(state, data['data_samples'],
                             share_prefix=False)
    # one prefix per image: soft tokens, box tokens, perception text
    assert len(plans) == 1 and plans[0].group == [0] * 4 + [1] * 4
    soft = model.fusion.num_queries
    assert min(plans[0].length) > soft + 5
    assert shared == whole
    assert [len(a) for a in shared] == [4, 4]


@pytest.mark.parametrize('arch', ['qwen2', 'mistral', 'gpt2'])
def test_other_architectures(tok, arch):
    """Qwen2 and Mistral continue from the cache as Llama does; GPT-2
    (no ``Cache`` classes in this transformers) runs whole sequences."""
    llm = head(tok, 'template', arch)
    visual, prompts = sequences(llm, (3, 2))
    assert llm._can_share_prefix({}) == (arch != 'gpt2')
    shared, whole = both(llm, visual, prompts, max_new_tokens=5)
    assert shared.sequences.tolist() == whole.sequences.tolist()
    for a, b in zip(shared.scores, whole.scores):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
