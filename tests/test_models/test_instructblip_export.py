"""An MLLM trained here is saved as a standard Hugging Face InstructBLIP
directory that transformers loads, and that ``mllm.pretrained`` loads back
into the same weights without a copy of its sizes."""
import pytest
import torch
from tiny_models import make_tokenizer

from mmmrmllm.models import MRMLLM, save_instructblip

TOWER = dict(model_type='instructblip_vision_model', hidden_size=32,
             intermediate_size=64, num_hidden_layers=1,
             num_attention_heads=4, image_size=32, patch_size=8)
FUSION = dict(num_queries=4, hidden_size=32, num_layers=2, num_heads=4,
              intermediate_size=64, vocab_size=64,
              max_position_embeddings=32, dropout=0.0, attn_dropout=0.0)


def llama_cfg(tok):
    return dict(model_type='llama', vocab_size=len(tok), hidden_size=32,
                intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=128, bos_token_id=1, eos_token_id=2,
                tie_word_embeddings=True)


def tiny_mllm(tmp_path, **kw):
    from transformers import AutoTokenizer
    tok_dir = make_tokenizer(str(tmp_path / 'tok'))
    tok = AutoTokenizer.from_pretrained(tok_dir)
    torch.manual_seed(0)
    model = MRMLLM(
        variant='mllm_only',
        vision_encoder=dict(type='HFVisionEncoder', model_cfg=TOWER,
                            frozen=False),
        fusion=dict(type='SharedQueryFusion', **FUSION),
        llm=dict(type='LLMHead', model_cfg=llama_cfg(tok),
                 tokenizer=tok_dir, train_mode='full'),
        **kw)
    # non-default values everywhere, so a weight left behind shows
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model, tok_dir


def test_transformers_loads_every_weight(tmp_path):
    from transformers import (
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )
    model, tok_dir = tiny_mllm(tmp_path)
    out = str(tmp_path / 'hf')
    save_instructblip(model, out)
    hf, info = InstructBlipForConditionalGeneration.from_pretrained(
        out, output_loading_info=True)
    assert not info['missing_keys'] and not info['unexpected_keys'], info
    theirs = hf.state_dict()
    for k, v in model.vision_encoder.model.state_dict().items():
        torch.testing.assert_close(theirs['vision_model.' + k], v)
    torch.testing.assert_close(theirs['query_tokens'],
                               model.fusion.query_tokens)
    torch.testing.assert_close(
        theirs['qformer.embeddings.layernorm.weight'],
        model.fusion.embeddings.layernorm.weight)
    torch.testing.assert_close(
        theirs['qformer.encoder.layer.1.crossattention.attention.query.'
               'weight'],
        model.fusion.state_dict()[
            'encoder.layer.1.crossattention.attention.query.weight'])
    torch.testing.assert_close(theirs['language_projection.weight'],
                               model.language_projection.weight)
    for k, v in model.llm.model.state_dict().items():
        torch.testing.assert_close(theirs['language_model.' + k], v)
    assert hf.config.num_query_tokens == 4
    assert hf.config.qformer_config.num_hidden_layers == 2
    proc = InstructBlipProcessor.from_pretrained(out)
    assert proc.image_processor.size == dict(height=32, width=32)
    assert proc.tokenizer('circle').input_ids == \
        model.llm.tokenizer('circle').input_ids


def test_pretrained_mllm_round_trip(tmp_path):
    """The directory alone rebuilds the MLLM: sizes from its config,
    weights from its files, the tokenizer from the directory."""
    model, _ = tiny_mllm(tmp_path)
    out = str(tmp_path / 'hf')
    save_instructblip(model, out)
    again = MRMLLM(
        variant='mllm_only',
        vision_encoder=dict(type='HFVisionEncoder', frozen=False),
        fusion=dict(type='SharedQueryFusion', dropout=0.0,
                    attn_dropout=0.0),
        llm=dict(type='LLMHead', train_mode='full'),
        mllm=dict(pretrained=out))
    ours, theirs = model.state_dict(), again.state_dict()
    assert set(ours) == set(theirs)
    for k in ours:
        if 'perception_gate' in k:  # MR-MLLM's own, not exported
            continue
        torch.testing.assert_close(theirs[k], ours[k], msg=k)
    assert again.fusion.num_queries == 4
    assert len(again.llm.tokenizer) == len(model.llm.tokenizer)


def test_export_refuses_what_has_no_place(tmp_path):
    model, _ = tiny_mllm(tmp_path)
    clip = dict(TOWER, model_type='clip_vision_model')
    model.vision_encoder = MRMLLM(
        variant='mllm_only',
        vision_encoder=dict(type='HFVisionEncoder', model_cfg=clip),
        fusion=dict(type='SharedQueryFusion', **FUSION),
        llm=dict(type='LLMHead', model_cfg=llama_cfg(model.llm.tokenizer),
                 tokenizer=str(tmp_path / 'tok'))).vision_encoder
    with pytest.raises(ValueError, match='InstructBLIP vision tower'):
        save_instructblip(model, str(tmp_path / 'bad'))


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='no-such-dir'):
        MRMLLM(
            variant='mllm_only',
            vision_encoder=dict(type='HFVisionEncoder'),
            fusion=dict(type='SharedQueryFusion'),
            llm=dict(type='LLMHead'),
            mllm=dict(pretrained=str(tmp_path / 'no-such-dir')))


def card_mllm(tmp_path, instruction_text):
    """A tiny MLLM laid out as InstructBLIP (query outputs first), its
    Q-Former reading ``instruction_text`` (None: no instruction)."""
    from transformers import AutoTokenizer
    tok_dir = make_tokenizer(str(tmp_path / 'tok'))
    tok = AutoTokenizer.from_pretrained(tok_dir)
    mean = [m * 255 for m in (0.48145466, 0.4578275, 0.40821073)]
    std = [s * 255 for s in (0.26862954, 0.26130258, 0.27577711)]
    torch.manual_seed(0)
    model = MRMLLM(
        variant='mllm_only',
        data_preprocessor=dict(
            type='MRMLLMDataPreprocessor',
            enc=dict(mean=mean, std=std, bgr_to_rgb=True)),
        vision_encoder=dict(type='HFVisionEncoder', model_cfg=TOWER,
                            frozen=False),
        fusion=dict(type='SharedQueryFusion', **dict(FUSION,
                                                     vocab_size=len(tok))),
        llm=dict(type='LLMHead', model_cfg=llama_cfg(tok),
                 tokenizer=tok_dir, train_mode='full',
                 token_layout='visual_first',
                 generation_cfg=dict(max_new_tokens=3)),
        mllm=dict(instruction_in_fusion=instruction_text is not None,
                  instruction_text=instruction_text))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


def toolkit_run(model, img, question):
    """The toolkit's first-answer-token logits and answer for one BGR
    image and question."""
    from mmmrmllm.structures import MRMLLMDataSample
    sample = MRMLLMDataSample(
        metainfo=dict(img_id=0, img_path='image.png', ori_shape=(32, 32),
                      img_shape=(32, 32), scale_factor=(1.0, 1.0),
                      has_det_ann=False))
    sample.questions = [question]
    bgr = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1)
    data = model.data_preprocessor(
        dict(inputs=dict(enc=[bgr]), data_samples=[sample]), False)
    with torch.no_grad():
        state = model.perceive(data['inputs'], data['data_samples'])
        visual, prompts, _ = model._lm_sequences(
            state, data['data_samples'], False)
        logits = model.llm.next_token_logits(visual, prompts)[0]
        answer = model.predict(data['inputs'],
                               data['data_samples'])[0].pred_answers[0]
    return logits, answer


@pytest.mark.parametrize('instruction_text', ['template', 'question', None])
def test_model_card_snippet_reproduces_the_toolkit(tmp_path, monkeypatch,
                                                    instruction_text):
    """The exported directory's README.md shows the prompt format and a
    transformers snippet; run as written (local files only), it gives the
    model the input the toolkit gives it: the same first-token logits and
    the same answer. With the toolkit's InstructBLIP layout (the Q-Former
    reads the LLM's text) that is the processor's standard call."""
    import numpy as np
    from PIL import Image
    model = card_mllm(tmp_path, instruction_text)
    out = tmp_path / 'hf'
    pre = model.data_preprocessor.enc
    qtok = model.instruction_tokenizer.tokenizer \
        if model.instruction_tokenizer is not None else None
    save_instructblip(
        model, str(out), qformer_tokenizer=qtok,
        image_mean=[float(m) / 255 for m in pre.mean.flatten()],
        image_std=[float(s) / 255 for s in pre.std.flatten()])
    card = (out / 'README.md').read_text()
    assert 'Question: {question} Answer:' in card
    code = card.split('```python\n')[1].split('```')[0]
    standard = instruction_text == 'template'
    assert ("inputs['qformer_" not in code) == standard
    img = np.random.RandomState(0).randint(0, 256, (32, 32, 3),
                                           dtype=np.uint8)
    Image.fromarray(img).save(out / 'image.png')
    monkeypatch.chdir(out)
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    scope = {}
    exec(compile(code, 'README.md', 'exec'), scope)
    ref, answer = toolkit_run(model, img, scope['question'])
    with torch.no_grad():
        theirs = scope['model'](**scope['inputs']).logits[0, -1]
    torch.testing.assert_close(theirs, ref, atol=1e-4, rtol=0)
    assert scope['answer'].strip() == answer
    # the failure the card prevents: the bare question through the
    # processor is not the input the model was trained on
    bare = scope['processor'](images=Image.open('image.png'),
                              text=scope['question'], return_tensors='pt')
    with torch.no_grad():
        wrong = scope['model'](**bare).logits[0, -1]
    assert (wrong - ref).abs().max() > 1e-2


def test_the_processor_sees_the_pixels_of_the_toolkits_encoder_view(
        tmp_path):
    """A CornerShapes image (128 px) shrunk to the tower's 32 px: the
    exported processor's pixel values are the toolkit's encoder input
    (EncoderView's default resize, then the data preprocessor)."""
    from PIL import Image
    from transformers import InstructBlipProcessor

    from mmmrmllm.datasets import EncoderView
    from mmmrmllm.datasets.cornershapes import generate_image
    model = card_mllm(tmp_path, 'template')
    out = str(tmp_path / 'hf')
    pre = model.data_preprocessor.enc
    save_instructblip(
        model, out, qformer_tokenizer=model.instruction_tokenizer.tokenizer,
        image_mean=[float(m) / 255 for m in pre.mean.flatten()],
        image_std=[float(s) / 255 for s in pre.std.flatten()])
    rgb = generate_image(0, 'val', 0)['image']
    bgr = rgb[..., ::-1].copy()
    view = EncoderView(scale=(32, 32))(dict(img=bgr))['enc_img']
    ours = model.data_preprocessor(
        dict(inputs=dict(enc=[torch.from_numpy(view).permute(2, 0, 1)]),
             data_samples=None), False)['inputs']['enc']
    processor = InstructBlipProcessor.from_pretrained(out)
    theirs = processor.image_processor(Image.fromarray(rgb),
                                       return_tensors='pt')['pixel_values']
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
