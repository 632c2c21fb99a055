"""A loaded InstructBLIP computes what InstructBLIP computes.

A tiny random InstructBLIP (and BLIP-2) directory, saved the way the hub
checkpoints are (``save_pretrained`` of the model and of its processor:
the LLM's tokenizer, a BERT WordPiece ``qformer_tokenizer/``, the image
processor), goes once through ``MRMLLM(variant='mllm_only',
mllm=dict(pretrained=DIR))`` and once through ``transformers``' own model and
processor: the same image and question give the same first-answer logits
and the same generated tokens. The weights are drawn with a large std so
that the logits depend clearly on the image, the question and the Q-Former
instruction, and the test checks that the toolkit's other layouts
(BOS first, no instruction, the bare question) differ from the reference:
a regression of the layout or of the instruction path fails it.
"""
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mmmrmllm.models.mllm_directory import summarize
from mmmrmllm.registry import MODELS
from mmmrmllm.structures import MRMLLMDataSample

CORPUS = [
    'Question: how many circles are there? Answer: two',
    'Question: what colour is the square? Answer: red',
    'Question: is there a triangle on the left? Answer: yes',
    'detected objects: circle [0.1, 0.2, 0.3, 0.4]; square [0.5, 0.5].',
    'the image shows a car and a person in the top right corner',
] * 4
QUESTION = 'how many circles are there?'
OTHER_QUESTION = 'what colour is the square?'
# the toolkit's default prompt_template, with <image> removed
PROMPT = 'Question: {} Answer:'
STD = 0.2  # weight init std: large enough for clear input dependence
NEW_TOKENS = 6
NUM_QUERIES = 4
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
              num_attention_heads=4, image_size=32, patch_size=8,
              initializer_range=STD)
TEXT = dict(model_type='llama', hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256,
            bos_token_id=1, eos_token_id=2, pad_token_id=3,
            initializer_range=STD)
QFORMER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=64, encoder_hidden_size=32,
               max_position_embeddings=64, cross_attention_frequency=1,
               initializer_range=STD)


def llm_tokenizer():
    """A SentencePiece-style BPE (``tokenizers``) that adds BOS."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE(unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(
        CORPUS,
        trainer=trainers.BpeTrainer(
            vocab_size=160,
            special_tokens=['<unk>', '<s>', '</s>', '<pad>'],
            show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single='<s> $A', special_tokens=[('<s>', 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token='<s>', eos_token='</s>',
        unk_token='<unk>', pad_token='<pad>')


def qformer_tokenizer(path):
    """A BERT WordPiece tokenizer (lower case, ``[CLS] ... [SEP]``),
    truncating on the left as InstructBLIP's."""
    from transformers import BertTokenizerFast
    words = {
        w.strip('?:.,;[]').lower()
        for text in CORPUS for w in text.split()
    } - {''}
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + \
        list('?:.,;[]0123456789') + sorted(words)
    os.makedirs(path, exist_ok=True)
    file = osp.join(path, 'vocab.txt')
    with open(file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    return BertTokenizerFast(file, truncation_side='left')


def save_tiny(path, kind, image_tokens):
    """A tiny random InstructBLIP / BLIP-2 directory, as on the hub.

    ``image_tokens``: the processor expands ``<image>`` tokens in the text
    and the config has an ``image_token_index`` (transformers' current
    layout); without, the query outputs are concatenated before the text
    embeddings (the legacy layout, what ``save_instructblip`` writes).
    """
    import transformers as tf
    tok = llm_tokenizer()
    image_processor = tf.BlipImageProcessor(size=dict(height=32, width=32))
    num = NUM_QUERIES if image_tokens else None
    if kind == 'instructblip':
        qtok = qformer_tokenizer(str(path) + '-bert')
        processor = tf.InstructBlipProcessor(image_processor, tok, qtok,
                                             num_query_tokens=num)
        config_cls = tf.InstructBlipConfig
        model_cls = tf.InstructBlipForConditionalGeneration
        qformer = dict(QFORMER, vocab_size=len(qtok))
    else:
        processor = tf.Blip2Processor(image_processor, tok,
                                      num_query_tokens=num)
        config_cls = tf.Blip2Config
        model_cls = tf.Blip2ForConditionalGeneration
        qformer = dict(QFORMER)
    # the processor added <image> to the LLM's tokenizer
    text = dict(TEXT, vocab_size=len(tok))
    cfg = config_cls(
        vision_config=VISION, qformer_config=qformer, text_config=text,
        num_query_tokens=NUM_QUERIES, initializer_range=STD,
        image_token_index=tok.convert_tokens_to_ids('<image>')
        if image_tokens else None)
    torch.manual_seed(0)
    model = model_cls(cfg).eval()
    model.save_pretrained(str(path))
    processor.save_pretrained(str(path))
    return model, processor, dict(text=text, qformer=qformer)


def build_toolkit(path, kind, sizes, mllm=None, **kwargs):
    mean = [m * 255 for m in (0.48145466, 0.4578275, 0.40821073)]
    std = [s * 255 for s in (0.26862954, 0.26130258, 0.27577711)]
    vision_type = 'instructblip_vision_model' if kind == 'instructblip' \
        else 'blip_2_vision_model'
    q = sizes['qformer']
    cfg = dict(
        type='MRMLLM',
        variant='mllm_only',
        mllm=dict(pretrained=str(path), **(mllm or {})),
        data_preprocessor=dict(
            type='MRMLLMDataPreprocessor',
            enc=dict(mean=mean, std=std, bgr_to_rgb=True)),
        vision_encoder=dict(
            type='HFVisionEncoder',
            model_cfg=dict(VISION, model_type=vision_type)),
        fusion=dict(
            num_queries=NUM_QUERIES, hidden_size=q['hidden_size'],
            num_layers=q['num_hidden_layers'],
            num_heads=q['num_attention_heads'],
            intermediate_size=q['intermediate_size'],
            cross_attention_frequency=q['cross_attention_frequency'],
            vocab_size=q.get('vocab_size', 64),
            max_position_embeddings=q['max_position_embeddings']),
        llm=dict(type='LLMHead', model_cfg=sizes['text'],
                 tokenizer=str(path)))
    cfg.update(kwargs)
    return MODELS.build(cfg).eval()


def image(seed):
    return np.random.RandomState(seed).randint(0, 256, (32, 32, 3),
                                               dtype=np.uint8)


def toolkit_inputs(model, img, question):
    sample = MRMLLMDataSample(
        metainfo=dict(img_id=0, img_path='img.png', ori_shape=(32, 32),
                      img_shape=(32, 32), scale_factor=(1.0, 1.0),
                      has_det_ann=False))
    sample.questions = [question]
    bgr = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1)
    data = model.data_preprocessor(
        dict(inputs=dict(enc=[bgr]), data_samples=[sample]), False)
    state = model.perceive(data['inputs'], data['data_samples'])
    visual, prompts, _ = model._lm_sequences(state, data['data_samples'],
                                             False)
    return data['inputs']['enc'], visual, prompts


def toolkit_logits(model, img, question):
    _, visual, prompts = toolkit_inputs(model, img, question)
    with torch.no_grad():
        return model.llm.next_token_logits(visual, prompts)[0]


def reference_logits(hf, processor, img, question):
    inputs = processor(images=img, text=PROMPT.format(question),
                       return_tensors='pt')
    with torch.no_grad():
        return hf(**inputs).logits[0, -1]


def diff(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize('image_tokens', [False, True],
                         ids=['legacy', 'image_tokens'])
def test_instructblip_equivalence(tmp_path, image_tokens):
    hf, processor, sizes = save_tiny(tmp_path, 'instructblip', image_tokens)
    model = build_toolkit(tmp_path, 'instructblip', sizes)
    # the defaults an mllm.pretrained directory brings
    assert model.llm.token_layout == 'visual_first'
    assert model.instruction_text == 'prompt'
    assert model.instruction_tokenizer.tokenizer.name_or_path == \
        osp.join(str(tmp_path), 'qformer_tokenizer')
    img = image(0)
    text = PROMPT.format(QUESTION)
    inputs = processor(images=img, text=text, return_tensors='pt')
    enc, visual, prompts = toolkit_inputs(model, img, QUESTION)
    # the same pixels, prompt text and LLM / Q-Former token ids
    assert diff(enc, inputs['pixel_values']) < 1e-5
    assert prompts[0].text == text and not prompts[0].prefix
    ids = inputs['input_ids'][0].tolist()
    assert ids[-len(prompts[0].suffix):] == prompts[0].suffix
    assert prompts[0].suffix[0] == processor.tokenizer.bos_token_id
    q_ids, _ = model.instruction_tokenizer([text], torch.device('cpu'))
    assert q_ids[0].tolist() == inputs['qformer_input_ids'][0].tolist()

    ref = reference_logits(hf, processor, img, QUESTION)
    ours = toolkit_logits(model, img, QUESTION)
    print(f'max |toolkit - transformers| = {diff(ours, ref):.2e}')
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    # greedy generation: the same tokens (several, EOS held back)
    with torch.no_grad():
        out = hf.generate(**inputs, max_new_tokens=NEW_TOKENS,
                          min_new_tokens=NEW_TOKENS)[0, -NEW_TOKENS:]
        gen = model.llm.generate_ids(visual, prompts,
                                     max_new_tokens=NEW_TOKENS,
                                     min_new_tokens=NEW_TOKENS)[0]
    assert gen.tolist() == out.tolist()
    answer = processor.tokenizer.decode(out, skip_special_tokens=True)
    assert model.llm.generate(visual, prompts, max_new_tokens=NEW_TOKENS,
                              min_new_tokens=NEW_TOKENS) == [answer.strip()]
    # beam search (InstructBLIP's evaluation decodes with 5 beams)
    beam = dict(max_new_tokens=NEW_TOKENS, min_new_tokens=1, num_beams=3,
                length_penalty=-1.0)
    with torch.no_grad():
        out = hf.generate(**inputs, **beam)[0, len(ids):]
        gen = model.llm.generate_ids(visual, prompts, **beam)[0]
    assert gen[:len(out)].tolist() == out.tolist()

    # the outputs depend clearly on the image and on the question ...
    margin = 1e-2
    assert diff(ref, reference_logits(hf, processor, image(1),
                                      QUESTION)) > margin
    assert diff(ref, reference_logits(hf, processor, img,
                                      OTHER_QUESTION)) > margin
    # ... and the toolkit's other layouts are not InstructBLIP's
    model.llm.token_layout = 'template'  # BOS before the visual tokens
    bos_first = diff(toolkit_logits(model, img, QUESTION), ref)
    model.llm.token_layout = 'visual_first'
    model.instruction_text = 'question'  # the bare question
    bare = diff(toolkit_logits(model, img, QUESTION), ref)
    model.instruction_text = 'prompt'
    tokenizer, model.instruction_tokenizer = model.instruction_tokenizer, None
    no_instruction = diff(toolkit_logits(model, img, QUESTION), ref)
    model.instruction_tokenizer = tokenizer
    print(f'BOS first: {bos_first:.2e}, bare question: {bare:.2e}, '
          f'no instruction: {no_instruction:.2e}')
    assert min(bos_first, bare, no_instruction) > margin


def test_blip2_equivalence(tmp_path):
    """BLIP-2: the same layout; its Q-Former reads no instruction, so a
    BLIP-2 directory leaves the instruction off."""
    hf, processor, sizes = save_tiny(tmp_path, 'blip-2', False)
    model = build_toolkit(tmp_path, 'blip-2', sizes)
    assert model.llm.token_layout == 'visual_first'
    assert model.instruction_tokenizer is None
    # the per-part load report the model keeps (pretrained_report)
    loaded = {k: v[0] for k, v in summarize(model.pretrained_report).items()}
    assert set(loaded) == {'vision_encoder', 'fusion', 'language_projection',
                           'llm'} and min(loaded.values()) > 0
    img = image(0)
    ref = reference_logits(hf, processor, img, QUESTION)
    ours = toolkit_logits(model, img, QUESTION)
    print(f'BLIP-2: max |toolkit - transformers| = {diff(ours, ref):.2e}')
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    assert diff(ref, reference_logits(hf, processor, image(1),
                                      QUESTION)) > 1e-2
    model.llm.token_layout = 'template'
    bos_first = diff(toolkit_logits(model, img, QUESTION), ref)
    print(f'BLIP-2, BOS first: {bos_first:.2e}')
    assert bos_first > 1e-2


def test_explicit_switches_win(tmp_path):
    """With a pretrained directory, explicit settings are kept."""
    _, _, sizes = save_tiny(tmp_path, 'instructblip', False)
    model = build_toolkit(
        tmp_path, 'instructblip', sizes,
        mllm=dict(instruction_in_fusion=False),
        llm=dict(type='LLMHead', model_cfg=sizes['text'],
                 tokenizer=str(tmp_path), token_layout='template'))
    assert model.llm.token_layout == 'template'
    assert model.instruction_tokenizer is None
    model = build_toolkit(tmp_path, 'instructblip', sizes,
                          mllm=dict(instruction_text='question'))
    assert model.instruction_text == 'question'
    with pytest.raises(ValueError, match='instruction_text'):
        build_toolkit(tmp_path, 'instructblip', sizes,
                      mllm=dict(instruction_text='caption'))
