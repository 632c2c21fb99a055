"""use_instruction_in_fusion: InstructBLIP's instruction-aware queries as
a switch of the joint model."""
import pytest
import torch
from tiny_models import (
    fusion_cfg,
    make_sample,
    make_tokenizer,
    mrmllm_cfg,
    preprocess,
)

from mmmrmllm.registry import MODELS


@pytest.fixture(scope='module')
def tok(tmp_path_factory):
    return make_tokenizer(str(tmp_path_factory.mktemp('tok')))


def build(tok, on, **fusion):
    torch.manual_seed(0)
    return MODELS.build(
        mrmllm_cfg('retinanet', tok, mllm=dict(instruction_in_fusion=on),
                   fusion=fusion_cfg(**fusion)))


def sequences(model, samples, training):
    data = preprocess(model, samples, training)
    model.train(training)
    state = model._perceive(data['inputs'], data['data_samples'], training)
    return model._lm_sequences(state, data['data_samples'], training)


def test_soft_tokens_depend_on_the_question_only_when_switched_on(tok):
    vocab = len(MODELS.build(mrmllm_cfg('retinanet', tok)).llm.tokenizer)
    samples = [make_sample(0), make_sample(1, boxes=False)]
    samples[0].questions = ['how many circles?', 'is there a square?']
    samples[0].gt_answers = [['1'], ['no']]
    off = build(tok, False, vocab_size=vocab)
    on = build(tok, True, vocab_size=vocab)
    nq = on.fusion.num_queries
    visual, prompts, owners = sequences(off, samples, False)
    assert torch.equal(visual[0], visual[1])  # one image: the same tokens
    visual_on, prompts_on, owners_on = sequences(on, samples, False)
    assert owners_on == owners and len(prompts_on) == len(prompts)
    assert not torch.allclose(visual_on[0][:nq], visual_on[1][:nq])
    # the box tokens after the soft tokens are the image's, unchanged
    assert torch.equal(visual_on[0][nq:], visual_on[1][nq:])
    # answers come out per question, as without the switch
    data = preprocess(on, samples, False)
    on.eval()
    out = on.predict(data['inputs'], data['data_samples'])
    assert [len(s.pred_answers) for s in out] == [2, len(samples[1].questions)]


def test_lm_loss_trains_the_instruction_embeddings(tok):
    vocab = len(MODELS.build(mrmllm_cfg('retinanet', tok)).llm.tokenizer)
    model = build(tok, True, vocab_size=vocab)
    model.train()
    losses = model(**preprocess(model, [make_sample(0)]), mode='loss')
    losses['lm.loss_lm'].backward()
    grad = model.fusion.embeddings.word_embeddings.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_a_tokenizer_larger_than_the_fusion_vocabulary_is_refused(tok):
    with pytest.raises(ValueError, match=r'fusion.vocab_size=8'):
        build(tok, True, vocab_size=8)
    with pytest.raises(FileNotFoundError, match='instruction_tokenizer'):
        MODELS.build(mrmllm_cfg('retinanet', tok,
                                mllm=dict(
                                    instruction_in_fusion=True,
                                    instruction_tokenizer='no/such/dir')))


def instructions_read(tok, monkeypatch, which: str):
    """An instruction-aware model reading ``instruction_text=which``, its
    sample's LLM prompts and the texts its Q-Former tokenizer was given."""
    from mmmrmllm.models.instruction import InstructionTokenizer
    vocab = len(MODELS.build(mrmllm_cfg('retinanet', tok)).llm.tokenizer)
    torch.manual_seed(0)
    model = MODELS.build(
        mrmllm_cfg('retinanet', tok,
                   mllm=dict(instruction_in_fusion=True,
                             instruction_text=which),
                   fusion=fusion_cfg(vocab_size=vocab)))
    seen = []
    call = InstructionTokenizer.__call__

    def record(self, texts, device):
        seen.extend(texts)
        return call(self, texts, device)

    monkeypatch.setattr(InstructionTokenizer, '__call__', record)
    samples = [make_sample(0)]
    _, prompts, _ = sequences(model, samples, False)
    return model, samples, prompts, seen


def test_prompt_instruction_is_the_text_the_llm_reads(tok, monkeypatch):
    """``instruction_text='prompt'`` (InstructBLIP's): each sequence's
    instruction is its whole prompt text, perception text included, the
    string the LLM's tokens come from; the default without a pretrained
    directory stays the bare question."""
    from mmmrmllm.models.mllm_directory import resolve_instruction
    assert resolve_instruction(None, None, None, None) == \
        (False, None, 'question')
    model, samples, prompts, seen = instructions_read(tok, monkeypatch,
                                                      'prompt')
    assert seen == [p.text for p in prompts] and len(seen) == 2
    for text, q in zip(seen, samples[0].questions):
        assert text.endswith(f'Question: {q} Answer:')
        assert len(text) > len(f'Question: {q} Answer:')  # perception
        ids = model.llm.tokenizer(text).input_ids
        p = prompts[seen.index(text)]
        assert p.prefix + p.suffix == ids  # 'template': BOS, then the rest


def test_template_instruction_is_the_prompt_without_perception(
        tok, monkeypatch):
    """``instruction_text='template'``: the prompt template filled with the
    question alone, the text an MLLM pre-trained without a detector read
    (and ``InstructBlipProcessor`` gives its Q-Former), even when the
    joint model's prompt carries the detections' text."""
    _, samples, prompts, seen = instructions_read(tok, monkeypatch,
                                                  'template')
    assert seen == [f'Question: {q} Answer:'
                    for q in samples[0].questions]
    # the LLM's own prompt keeps the perception text
    assert all(len(p.text) > len(t) for p, t in zip(prompts, seen))


def test_image_memory_once_gives_each_questions_own_fusion_pass(tok):
    """The fusion memory is computed once per image and picked per
    question: each sequence's soft tokens are those of a fusion pass on
    its image alone with its instruction alone."""
    from torch import Tensor

    from mmmrmllm.models.instruction import instruction_texts
    vocab = len(MODELS.build(mrmllm_cfg('retinanet', tok)).llm.tokenizer)
    model = build(tok, True, vocab_size=vocab).eval()
    samples = [make_sample(0), make_sample(1, boxes=False)]
    samples[0].questions = ['how many circles?', 'is there a square?']
    samples[0].gt_answers = [['1'], ['no']]
    data = preprocess(model, samples, False)
    with torch.no_grad():
        state = model._perceive(data['inputs'], data['data_samples'], False)
        visual, prompts, owners = model._lm_sequences(
            state, data['data_samples'], False)
        texts = instruction_texts(model.instruction_text, prompts,
                                  data['data_samples'],
                                  model.llm.prompt_template)
        ids, mask = model.instruction_tokenizer(texts, visual[0].device)

        def one_image(value, o):
            if isinstance(value, Tensor) and value.dim() > 0:
                return value[o:o + 1]
            if isinstance(value, tuple) and value and isinstance(
                    value[0], Tensor):
                return tuple(one_image(v, o) for v in value)
            return [value[o]] if isinstance(value, list) else value

        assert owners[:2] == [0, 0] and set(owners[2:]) == {1}
        for i, o in enumerate(owners):
            inputs = {k: one_image(v, o)
                      for k, v in state.fusion_inputs.items()}
            alone = model.language_projection(model.fusion(
                **inputs, instruction_ids=ids[i:i + 1],
                instruction_mask=mask[i:i + 1]))[0]
            torch.testing.assert_close(visual[i][:len(alone)], alone,
                                       rtol=1e-5, atol=1e-6)
