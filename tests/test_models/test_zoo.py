"""Every detector family of mmdet 3.3 that trains from boxes, taken from
mmdet's own zoo configs (shrunk by one shared helper, ``zoo.shrink``),
dropped into ``model.detector`` with every mechanism on: one joint train
step (the detection loss reaches the fusion, the LM loss the detector) and
a prediction whose perception prompt names detected objects (issue 14).
The result per family is listed in docs/model.md.
"""
import pytest
import torch
from tiny_models import make_sample, make_tokenizer, mrmllm_cfg, preprocess
from zoo import FAMILIES, shrink

from mmmrmllm.registry import MODELS

# slower than ~10 s on two CPU cores: run by `make test`, not `test-fast`
SLOW = {'cascade_rcnn', 'ddod', 'mask_rcnn', 'ssd', 'sparse_rcnn', 'yolov3',
        'yolox'}


@pytest.fixture(scope='module')
def tok(tmp_path_factory):
    return make_tokenizer(str(tmp_path_factory.mktemp('tok')))


def grad_norm(module):
    return sum(p.grad.abs().sum().item() for p in module.parameters()
               if p.grad is not None)


@pytest.mark.parametrize('family', [
    pytest.param(f, marks=pytest.mark.slow) if f in SLOW else f
    for f in FAMILIES
])
def test_zoo_family_trains_and_predicts_jointly(family, tok):
    path, size = FAMILIES[family]
    torch.manual_seed(0)
    model = MODELS.build(mrmllm_cfg(shrink(path), tok))
    assert model.use_feedback and model.use_det_feats_in_fusion
    assert model.use_box_tokens and model.use_perception_prompt
    # the coupling gates start at zero (the detector alone at step 0);
    # open them as training would
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'gate' in name.rsplit('.', 1)[-1]:
                p.fill_(0.1)
    samples = [make_sample(0, size=size), make_sample(1, size=size)]
    # an untrained detector's boxes: predict before the step moves them
    model.eval()
    model.prompt_generator.score_thr = 0.0
    data = preprocess(model, samples, training=False, size=size)
    with torch.no_grad():
        state = model.perceive(data['inputs'], data['data_samples'])
        _, prompts = model.answer(state, data['data_samples'],
                                  return_prompts=True)
    assert len(state.det_results[0]) > 0
    assert any(name in prompts[0][0]
               for name in ('circle', 'square', 'triangle')), prompts[0][0]

    model.train()
    data = preprocess(model, samples, size=size)
    losses = model(**data, mode='loss')
    det = {k: v for k, v in losses.items() if k.startswith('det.')}
    assert det and 'lm.loss_lm' in losses, sorted(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    model.zero_grad()
    model.parse_losses(det)[0].backward(retain_graph=True)
    assert grad_norm(model.fusion) > 0, 'detection loss misses the fusion'
    model.zero_grad()
    losses['lm.loss_lm'].backward()
    assert grad_norm(model.detector) > 0, 'LM loss misses the detector'

