"""Language pre-training: the text corpus, its dataset, the trainer and the
Hugging Face export that the joint model loads through ``name_or_path``."""
import json
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from transformers import AutoModelForCausalLM

from mmmrmllm.datasets.cornershapes import (
    TEXT_PROMPT,
    CornerShapesText,
    CornerShapesTextDataset,
    generate_cornershapes,
    sample_scene,
)
from mmmrmllm.datasets.cornershapes.phrasings import (
    TEMPLATES,
    parse_question,
)
from mmmrmllm.datasets.cornershapes.questions import QUADRANTS
from mmmrmllm.registry import MODELS
from mmmrmllm.text import DetectionPromptGenerator, corrupt_objects

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROMPT = dict(type='DetectionPromptGenerator', **TEXT_PROMPT)


def test_prompt_of_the_configs_is_the_tokenizers():
    base = Config.fromfile(
        osp.join(ROOT, 'configs', '_base_', 'models',
                 'cornershapes_prompt.py')).prompt_generator.to_dict()
    base.pop('type')
    assert base == TEXT_PROMPT


def test_text_items_are_deterministic_and_answer_from_the_scene():
    gen = CornerShapesText(DetectionPromptGenerator(**TEXT_PROMPT), seed=3,
                           corrupt_prob=0.0)
    assert gen[5] == gen[5] and gen[5] != gen[6]
    used = set()
    for i in range(50):
        item = gen[i]
        counts = dict(
            part.split(' ') for part in item['perception'].split('. ')[0]
            [len('Counts: '):].split(', '))
        for q, a, t in zip(item['questions'], item['answers'],
                           item['question_types']):
            # worded as the training splits: any training phrasing
            kind, phrasing, slots = parse_question(q)
            assert kind.startswith(t)
            used.add(phrasing)
            if t == 'counting':
                shape = slots['shapes'][:-1]
                assert counts[shape] == a
            if t == 'shape_at_position':
                where = slots['quadrant']
                assert where in QUADRANTS
                assert f'{where} {a}' in item['perception']
    assert len(used) >= 10
    # the templates on request; the scene does not change with the wording
    plain = CornerShapesText(DetectionPromptGenerator(**TEXT_PROMPT),
                             seed=3, corrupt_prob=0.0, phrasing='template')
    assert plain[7]['perception'] == gen[7]['perception']
    assert all(parse_question(q).phrasing == TEMPLATES[t] for q, t in zip(
        plain[7]['questions'], plain[7]['question_types']))


def test_scene_sampler_and_corruption():
    rng = np.random.default_rng(0)
    for family, (lo, hi) in (('common', (1, 4)), ('corner', (2, 5))):
        sizes = [len(sample_scene(rng, family)) for _ in range(200)]
        assert min(sizes) >= 1 and max(sizes) <= hi and max(sizes) > lo
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9]])
    labels = np.array([0, 1])
    same = corrupt_objects(rng, boxes, labels, 3, drop=0, add=0, jitter=0)
    assert np.allclose(same[0], boxes) and (same[1] == labels).all()
    none = corrupt_objects(rng, boxes, labels, 3, drop=1, add=0)
    assert len(none[0]) == 0
    more = corrupt_objects(rng, boxes, labels, 3, drop=0, add=1)
    assert len(more[0]) == 3 and more[0].min() >= 0 and more[0].max() <= 1


def test_split_source_writes_ground_truth(tmp_path):
    root = str(tmp_path / 'cs')
    generate_cornershapes(root, sizes=dict(det_train=0, vqa_train=4, val=6,
                                           corner=0, novel=0))
    ds = CornerShapesTextDataset(
        prompt_generator=PROMPT, data_root=root,
        ann_file='annotations/val.json', question_file='questions/val.json')
    assert len(ds) == 6
    coco = json.loads((tmp_path / 'cs' / 'annotations' / 'val.json')
                      .read_text())
    records = json.loads((tmp_path / 'cs' / 'questions' / 'val.json')
                         .read_text())['data_list']
    classes = [c['name'] for c in coco['categories']]
    for i, rec in enumerate(records):
        item = ds[i]
        sample = item['data_samples']
        assert item['inputs'].numel() == 0
        # the prompt's text of the image's annotated boxes: counts of every
        # class, then '<quadrant> <shape>' from left to right
        objs = sorted(
            ((x + w / 2, y + h / 2, classes[a['category_id'] - 1])
             for a in coco['annotations'] if a['image_id'] == rec['image_id']
             for x, y, w, h in [a['bbox']]), key=lambda o: o[0])
        counts = ', '.join(
            f'{c} {sum(o[2] == c for o in objs)}' for c in classes)
        where = [('top' if cy < 64 else 'bottom') + '-' +
                 ('left' if cx < 64 else 'right') for cx, cy, _ in objs]
        assert sample.perception == (
            f'Counts: {counts}. Objects: ' +
            ', '.join(f'{q} {o[2]}' for q, o in zip(where, objs)) + '.\n')
        assert sample.questions == [q['question'] for q in rec['questions']]
        assert sample.gt_answers == [q['answers'] for q in rec['questions']]


def test_language_stage_exports_a_loadable_hf_model(tmp_path):
    """Two iterations of the language stage with the Runner; the exported
    directory loads with AutoModelForCausalLM and as an LLMHead through
    name_or_path, with the same weights."""
    root = str(tmp_path / 'cs')
    generate_cornershapes(root, sizes=dict(det_train=0, vqa_train=4, val=4,
                                           corner=0, novel=0))
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'pretrain',
                 'llama_4l_1xb12_2500i_cornershapes_text.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.llm.tokenizer = osp.join(root, 'tokenizer')
    cfg.model.llm.model_cfg.update(num_hidden_layers=1, hidden_size=32,
                                   intermediate_size=64)
    cfg.train_dataloader.batch_size = 2
    cfg.val_dataloader.dataset.data_root = root
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    out = osp.join(cfg.work_dir, 'hf_model')
    hf = AutoModelForCausalLM.from_pretrained(out)
    head = MODELS.build(dict(type='LLMHead', name_or_path=out))
    trained = runner.model.llm.model.state_dict()
    for key, val in hf.state_dict().items():
        assert torch.equal(val, trained[key]), key
        assert torch.equal(val, head.model.state_dict()[key]), key
    assert len(head.tokenizer) == len(runner.model.llm.tokenizer)
    # the stage validated on the split's ground-truth prompts
    assert 'val/vqa/acc' in runner.message_hub.log_scalars
