import torch
from transformers import AutoTokenizer

from mmmrmllm.models.llm import build_word_tokenizer
from mmmrmllm.models.perception.prompt_generator import (
    PerceptionPromptGenerator,
)
from mmmrmllm.registry import MODELS


def test_word_tokenizer_round_trip(tmp_path):
    corpus = ['How many circles are there?', 'circle', 'yes', 'no']
    build_word_tokenizer(corpus, str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    ids = tok('Counts: 12 circle. Question: How many circles?').input_ids
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens[0] == '<s>'
    # digits split, punctuation and prompt words known: no <unk>
    assert tokens[1:] == [
        'counts', ':', '1', '2', 'circle', '.', 'question', ':', 'how',
        'many', 'circles', '?'
    ]
    assert tok.convert_ids_to_tokens(tok('zebra').input_ids)[1] == '<unk>'
    answer = tok(' yes', add_special_tokens=False).input_ids
    assert len(answer) == 1
    assert tok.decode(answer + [tok.eos_token_id],
                      skip_special_tokens=True) == 'yes'
    assert tok.pad_token_id is not None and tok.eos_token_id is not None


def test_llm_head_trains_with_word_tokenizer(tmp_path):
    build_word_tokenizer(['is there a circle ?', 'yes', 'no'], str(tmp_path))
    head = MODELS.build(
        dict(
            type='LLMHead',
            tokenizer=str(tmp_path),
            train_mode='full',
            model_cfg=dict(
                model_type='llama', vocab_size=64, hidden_size=32,
                intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, bos_token_id=0, eos_token_id=1,
                pad_token_id=2)))
    enc, _ = head.encode_image_prompts(['is there a circle?'], ['yes'], 0)
    loss = head.loss([torch.zeros(0, 32)], enc)['loss']
    assert torch.isfinite(loss)


def test_grid_coordinates_and_zero_counts():
    gen = PerceptionPromptGenerator(
        template='{counts}Objects: {objects}.',
        object_template='{name} {box}',
        coord_style='grid',
        with_counts=True,
        counts_all_classes=True,
        sort='position')
    names = ['circle', 'square', 'triangle']
    text = gen(
        torch.tensor([[0.6, 0.7, 0.9, 0.9], [0.1, 0.1, 0.3, 0.3]]),
        torch.tensor([2, 0]), torch.tensor([0.8, 0.9]), names)
    assert text == ('Counts: 1 circle, 0 square, 1 triangle. '
                    'Objects: circle top left; triangle bottom right.')
    empty = gen(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
                torch.zeros(0), names)
    assert empty.startswith('Counts: 0 circle, 0 square, 0 triangle.')
    three = PerceptionPromptGenerator(
        coord_style='grid', grid_size=3, object_template='{name} {box}')
    text = three(
        torch.tensor([[0.4, 0.4, 0.6, 0.6], [0.0, 0.4, 0.2, 0.6]]),
        torch.tensor([0, 1]), torch.tensor([0.9, 0.8]), names[:2])
    assert text == 'Detected: circle centre; square left.\n'


def test_prompt_nms_removes_repeated_objects():
    boxes = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.11, 0.1, 0.3, 0.31],
                          [0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.9, 0.9]])
    labels = torch.tensor([0, 0, 1, 0])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    kwargs = dict(template='{counts}', with_counts=True)
    plain = PerceptionPromptGenerator(**kwargs)
    assert plain(boxes, labels, scores, ['circle', 'square']) == \
        'Counts: 3 circle, 1 square. '
    # the repeated circle goes; the square on the same spot stays
    nms = PerceptionPromptGenerator(nms_iou_thr=0.5, **kwargs)
    assert nms(boxes, labels, scores, ['circle', 'square']) == \
        'Counts: 2 circle, 1 square. '
