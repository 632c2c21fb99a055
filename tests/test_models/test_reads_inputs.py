"""The joint model reads what it is shown.

A tiny MR-MLLM is trained here on a task where the counting answer is
written only in the perception prompt and the colour answer is visible
only in the image. Afterwards, changing the counts in the prompt must
change the counting answer, and changing the image must change the colour
answer: a model that answers from its prior (the failure this test guards
against) cannot pass.
"""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from tiny_models import CLASSES, mrmllm_cfg

from mmmrmllm.models.llm import train_subword_tokenizer
from mmmrmllm.models.mrmllm import Detections
from mmmrmllm.registry import MODELS
from mmmrmllm.utils import register_all_modules

COLOURS = {'red': (255, 0, 0), 'green': (0, 255, 0), 'blue': (0, 0, 255)}
COUNT_Q = 'How many circles are there?'
COLOUR_Q = 'What colour is the square?'
PROMPT = dict(
    template='{counts}\n',
    counts_template='Counts: {counts}.',
    count_template='{name} {count}',
    with_counts=True,
    counts_all_classes=True,
    score_thr=0.0,
    max_objects=8)


def _sample(g: torch.Generator, size: int = 64):
    """One image: its encoder view is a solid colour; its boxes hold 0-3
    circles and a square."""
    colour = list(COLOURS)[int(torch.randint(3, (1, ), generator=g))]
    circles = int(torch.randint(4, (1, ), generator=g))
    labels = torch.tensor([0] * circles + [1])
    xy = torch.rand(len(labels), 2, generator=g) * size * 0.6
    boxes = torch.cat([xy, xy + size * 0.3], dim=1)
    s = DetDataSample(
        metainfo=dict(
            img_id=0,
            ori_shape=(size, size),
            img_shape=(size, size),
            scale_factor=(1.0, 1.0),
            has_det_ann=True,
            classes=CLASSES))
    s.gt_instances = InstanceData(bboxes=boxes, labels=labels)
    s.questions = [COUNT_Q, COLOUR_Q]
    s.gt_answers = [[str(circles)], [colour]]
    s.question_types = ['counting', 'colour']
    enc = torch.tensor(COLOURS[colour], dtype=torch.uint8)
    # images are BGR like mmcv's loader; the preprocessor flips them
    enc = enc.flip(0)[:, None, None].expand(3, 32, 32).clone()
    det = torch.randint(0, 256, (3, size, size), generator=g,
                        dtype=torch.uint8)
    return det, enc, s


def _batch(g, n):
    det, enc, samples = zip(*[_sample(g) for _ in range(n)])
    return dict(
        inputs=dict(det=list(det), enc=list(enc)), data_samples=list(samples))


def _answers(model, colour, circles):
    """Answers to both questions for an image of ``colour`` whose
    detections hold ``circles`` circles (written into the prompt)."""
    g = torch.Generator().manual_seed(0)
    det, enc, s = _sample(g)
    enc = torch.tensor(COLOURS[colour], dtype=torch.uint8).flip(0)[
        :, None, None].expand(3, 32, 32).clone()
    data = model.data_preprocessor(
        dict(inputs=dict(det=[det], enc=[enc]), data_samples=[s]), False)
    labels = torch.tensor([0] * circles + [1])
    boxes = torch.rand(len(labels), 2, generator=g) * 0.6
    boxes = torch.cat([boxes, boxes + 0.3], dim=1)
    with torch.no_grad():
        state = model._perceive(data['inputs'], data['data_samples'], False)
        state = state._replace(detections=[
            Detections(boxes, labels, torch.ones(len(labels)))
        ])
        visual, prompts, _ = model._lm_sequences(state,
                                                 data['data_samples'], False)
        return model.llm.generate(visual, prompts)


@pytest.mark.slow
def test_answers_follow_the_prompt_and_the_image(tmp_path):
    register_all_modules(init_default_scope=True)
    torch.manual_seed(0)
    corpus = [COUNT_Q, COLOUR_Q, 'Question: Answer:', 'Counts: .'] + \
        list(COLOURS) + list(CLASSES) + list('0123456789')
    tok = str(tmp_path / 'tok')
    train_subword_tokenizer(corpus * 20, vocab_size=128, out_dir=tok)
    cfg = mrmllm_cfg(
        'fcos', tok,
        detection_source='gt',
        gt_noise=0.0,
        use_box_tokens=False,
        # the detector only runs here: its loss (boxes on noise) would
        # dominate the gradient
        lambda_det=0.0,
        prompt_generator=PROMPT)
    cfg['llm']['model_cfg'].update(
        vocab_size=128, hidden_size=64, intermediate_size=128,
        bos_token_id=0, eos_token_id=1)
    cfg['llm']['train_mode'] = 'full'
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    params = [
        p for n, p in model.named_parameters()
        if p.requires_grad and not n.startswith('detector.')
    ]
    opt = torch.optim.AdamW(params, lr=3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(250):
        data = model.data_preprocessor(_batch(g, 8), True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    model.eval()

    # same image, different counts in the prompt -> different answers
    counts = [_answers(model, 'red', k)[0] for k in range(4)]
    assert counts == ['0', '1', '2', '3']
    # same prompt, different image -> the colour answer follows the image
    colours = [_answers(model, c, 1)[1] for c in COLOURS]
    assert colours == list(COLOURS)
