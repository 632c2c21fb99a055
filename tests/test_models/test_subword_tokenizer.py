import pytest
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from mmmrmllm.models.llm import train_subword_tokenizer
from mmmrmllm.registry import MODELS
from mmmrmllm.text import (
    DetectionPromptGenerator,
    cell_name,
    grid_cells,
    point_cell,
)

CORPUS = [
    'Counts: circle 2, square 0. Objects: top-left circle.\n'
    'Question: How many circles are there? Answer: 2',
    'Question: Is there a red square? Answer: yes',
    'Question: What colour is the circle? Answer: blue',
] * 30


def test_subword_tokenizer_shares_stems_and_round_trips(tmp_path):
    train_subword_tokenizer(CORPUS, vocab_size=256, out_dir=str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    pieces = tok.convert_ids_to_tokens(
        tok('How many circles?', add_special_tokens=False).input_ids)
    # the plural shares the stem's token
    stem = tok.convert_ids_to_tokens(
        tok('circle', add_special_tokens=False).input_ids)
    assert stem == ['▁circle']
    assert pieces == ['▁how', '▁many', '▁circle', 's', '?']
    # frequent words are whole tokens; unseen text still encodes (no unk)
    ids = tok('zebra 17\nQ').input_ids
    assert tok.convert_ids_to_tokens(ids)[0] == '<s>'
    assert tok.unk_token_id not in ids
    text = 'Counts: circle 2.\nQuestion: How many squares? Answer: 0'
    # decoding gives the normalised (lower-case) text
    assert tok.decode(tok(text).input_ids,
                      skip_special_tokens=True) == text.lower()
    answer = tok(' yes', add_special_tokens=False).input_ids
    assert len(answer) == 1
    assert tok.decode(answer + [tok.eos_token_id],
                      skip_special_tokens=True) == 'yes'
    assert tok.pad_token_id is not None and tok.eos_token_id is not None
    assert len(tok) <= 256


def _pieces(tok, text):
    return tok.convert_ids_to_tokens(
        tok(text, add_special_tokens=False).input_ids)


def test_hyphenated_words_stay_whole(tmp_path):
    # 'top-left' is frequent enough to be merged by the training alone
    corpus = CORPUS + ['Objects: top-left circle, bottom-right square.'] * 60
    train_subword_tokenizer(corpus, vocab_size=256, out_dir=str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    assert _pieces(tok, ' top-left') == _pieces(tok, 'top-left') == [
        '▁top-left']
    # a hyphen between letters is part of the word; others are punctuation
    assert _pieces(tok, 'a - b')[-3:-1] == ['▁', '-']
    text = 'objects: top-left circle, x-y - z -- q-.'
    assert tok.decode(tok(text).input_ids, skip_special_tokens=True) == text


def test_whole_words_are_one_token_within_the_vocabulary(tmp_path):
    cells = grid_cells(2)
    # the training alone leaves the cells in pieces at this size (CORPUS
    # names only 'top-left', and no pair of it is frequent enough; the
    # specials and the alphabet take 74)
    train_subword_tokenizer(CORPUS, vocab_size=123, out_dir=str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    assert len(_pieces(tok, ' top-left')) > 1
    train_subword_tokenizer(CORPUS, vocab_size=123, out_dir=str(tmp_path),
                            whole_words=cells)
    for tok in (AutoTokenizer.from_pretrained(str(tmp_path)),
                PreTrainedTokenizerFast(
                    tokenizer_file=str(tmp_path / 'tokenizer.json'))):
        assert len(tok) <= 123
        for cell in cells:
            assert _pieces(tok, ' ' + cell) == _pieces(tok, cell) == [
                '▁' + cell]
            answer = tok(' ' + cell, add_special_tokens=False).input_ids
            assert tok.decode(answer) == cell
        assert _pieces(tok, 'circles')[-2:] == ['▁circle', 's']
    with pytest.raises(ValueError, match='whole words'):
        train_subword_tokenizer(CORPUS, vocab_size=83, whole_words=cells)
    with pytest.raises(ValueError, match='single words'):
        train_subword_tokenizer(CORPUS, whole_words=['top left'])
    with pytest.raises(ValueError, match="'Top-left' reads as 'top-left'"):
        train_subword_tokenizer(CORPUS, whole_words=['Top-left'])
    with pytest.raises(ValueError, match=r"\['cross'\] are split"):
        train_subword_tokenizer(CORPUS, whole_words=['yes', 'cross'])


def test_case_unicode_and_spaces_do_not_reach_the_model(tmp_path):
    train_subword_tokenizer(CORPUS, vocab_size=256, out_dir=str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))

    def ids(text):
        return tok(text, add_special_tokens=False).input_ids

    same = ['How many circles are there?', 'how many circles are there?',
            ' HOW many\tcircles   are there?',
            '\uff28ow many circles are there?']  # full-width H (NFKC)
    assert len({tuple(ids(t)) for t in same}) == 1
    # a question as the LLM reads it, inside the prompt template: its
    # spaces at either end are runs too
    template = 'Question: {} Answer:'
    assert ids(template.format('  how many Circles are there?  ')) == ids(
        template.format(same[0]))
    # a line break is kept (prompts are laid out with them)
    assert ids('circle.\nquestion') != ids('circle. question')
    # the alphabet holds no capitals: they never reach the model
    assert not any(t.lstrip('▁')[:1].isupper() for t in tok.get_vocab())


def test_cell_names_are_one_word():
    assert grid_cells(2) == ('top-left', 'top-right', 'bottom-left',
                             'bottom-right')
    assert grid_cells(3) == ('top-left', 'top', 'top-right', 'left',
                             'centre', 'right', 'bottom-left', 'bottom',
                             'bottom-right')
    assert cell_name('bottom', 'left') == 'bottom-left'
    assert point_cell(0.5, 0.49) == 'top-right'
    assert point_cell(-1., 2.) == 'bottom-left'
    assert point_cell(0.5, 0.5, grid_size=3) == 'centre'


def test_llm_head_trains_with_subword_tokenizer(tmp_path):
    train_subword_tokenizer(CORPUS, vocab_size=128, out_dir=str(tmp_path))
    head = MODELS.build(
        dict(
            type='LLMHead',
            tokenizer=str(tmp_path),
            train_mode='full',
            model_cfg=dict(
                model_type='llama', vocab_size=128, hidden_size=32,
                intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, bos_token_id=0, eos_token_id=1,
                pad_token_id=2)))
    enc, _ = head.encode_image_prompts(['is there a circle?'], ['yes'], 0)
    out = head.loss([torch.zeros(0, 32)], enc, text_loss=True)
    assert torch.isfinite(out['loss']) and torch.isfinite(out['loss_text'])
    # the text loss covers the prompt, not the answer: it ignores answers
    other, _ = head.encode_image_prompts(['is there a circle?'], ['no'], 0)
    out2 = head.loss([torch.zeros(0, 32)], other, text_loss=True)
    assert torch.allclose(out['loss_text'], out2['loss_text'])
    assert not torch.allclose(out['loss'], out2['loss'])


def test_count_template_and_x_order():
    gen = DetectionPromptGenerator(
        template='{counts}Objects: {objects}.',
        counts_template='Counts: {counts}. ',
        count_template='{plural} {count}',
        object_template='{box} {name}',
        separator=', ',
        coord_style='grid',
        with_counts=True,
        counts_all_classes=True,
        sort='x')
    text = gen(
        torch.tensor([[0.6, 0.1, 0.9, 0.3], [0.1, 0.6, 0.3, 0.9]]),
        torch.tensor([0, 2]), torch.tensor([0.9, 0.8]),
        ['circle', 'cross', 'triangle'])
    assert text == ('Counts: circles 1, crosses 0, triangles 1. '
                    'Objects: bottom-left triangle, top-right circle.')


def test_grid_coordinates_and_zero_counts():
    gen = DetectionPromptGenerator(
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
                    'Objects: circle top-left; triangle bottom-right.')
    empty = gen(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
                torch.zeros(0), names)
    assert empty.startswith('Counts: 0 circle, 0 square, 0 triangle.')
    three = DetectionPromptGenerator(
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
    plain = DetectionPromptGenerator(**kwargs)
    assert plain(boxes, labels, scores, ['circle', 'square']) == \
        'Counts: 3 circle, 1 square. '
    # the repeated circle goes; the square on the same spot stays
    nms = DetectionPromptGenerator(nms_iou_thr=0.5, **kwargs)
    assert nms(boxes, labels, scores, ['circle', 'square']) == \
        'Counts: 2 circle, 1 square. '


def test_byte_tokenizer_normalises_alike():
    from mmmrmllm.models.llm.byte_tokenizer import build_byte_tokenizer
    tok = build_byte_tokenizer()
    assert tok('How  many Circles?').input_ids == tok(
        'how many circles?').input_ids
    assert tok.decode(tok('A\nB').input_ids, skip_special_tokens=True) == \
        'a\nb'
