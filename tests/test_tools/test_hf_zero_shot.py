"""tools/analysis_tools/hf_zero_shot.py: it reads the call from the
directory's model card and answers through transformers alone as the card
shows, the toolkit's answers for the same image and question."""
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models'))

import hf_zero_shot  # noqa: E402
from test_instructblip_export import card_mllm, toolkit_run  # noqa: E402

from mmmrmllm.models import save_instructblip  # noqa: E402

QUESTIONS = ['what colour is the circle?', 'how many squares are there?']


@pytest.mark.parametrize('instruction_text', ['template', 'question'])
def test_card_call_answers_as_the_toolkit(tmp_path, instruction_text):
    model = card_mllm(tmp_path, instruction_text)
    out = str(tmp_path / 'hf')
    pre = model.data_preprocessor.enc
    save_instructblip(
        model, out, qformer_tokenizer=model.instruction_tokenizer.tokenizer,
        image_mean=[float(m) / 255 for m in pre.mean.flatten()],
        image_std=[float(s) / 255 for s in pre.std.flatten()])
    call = hf_zero_shot.card_call(out)
    assert call == dict(
        prompt='Question: {question} Answer:', max_new_tokens=3,
        qformer='text' if instruction_text == 'template' else 'question')
    records, expected = [], []
    for seed in range(2):
        img = np.random.RandomState(seed).randint(0, 256, (32, 32, 3),
                                                  dtype=np.uint8)
        path = str(tmp_path / f'{seed}.png')
        Image.fromarray(img).save(path)
        answers = [toolkit_run(model, img, q)[1] for q in QUESTIONS]
        expected += answers
        # the toolkit's answer as the reference: the card's call scores 1
        records.append(dict(img_path=path, questions=QUESTIONS,
                            gt_answers=[[a] for a in answers],
                            question_types=['colour', 'counting']))
    res = hf_zero_shot.transformers_zero_shot(
        out, records, call['prompt'], call['qformer'],
        call['max_new_tokens'], 10)
    assert res['answers'] == expected
    assert res['acc'] == 1.0 and res['num_questions'] == 4
    assert res['acc_colour'] == res['acc_counting'] == 1.0


def test_a_directory_without_a_card_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='no model card'):
        hf_zero_shot.card_call(str(tmp_path))
    (tmp_path / 'README.md').write_text('# no snippet\n')
    with pytest.raises(ValueError, match='prompt format'):
        hf_zero_shot.card_call(str(tmp_path))
