"""Make ``tests/data/legacy_joint_ckpt.pth``: a tiny joint MR-MLLM's
checkpoint with fixed inputs and the outputs it gave.

The file was made by the model code of the flat-keyword constructor (the
release before the grouped constructor) and is read by
``tests/test_models/test_legacy_checkpoint.py``: the current code must load
it strictly and give the same detections, answers and losses. Do not
regenerate it to make that test pass; regenerate it (from the repository
root) only when the computation is meant to change::

    python tests/data/make_legacy_joint_ckpt.py

Every switch of the joint model that adds weights or a step is on: feedback,
box tokens into the LLM and the fusion (the pre-pass), the perception
prompt, instruction-aware queries, the ground-truth schedule and the
soft-answer and region-text losses. All parts train, so the checkpoint
holds every weight.
"""
import copy
import os
import os.path as osp
import sys
import tempfile

import torch

HERE = osp.dirname(osp.abspath(__file__))
OUT = osp.join(HERE, 'legacy_joint_ckpt.pth')
QUESTIONS = ['how many circle ?', 'what colour is the square ?']


def tiny_detector() -> dict:
    """RetinaNet on a ResNet-18 eight channels wide (under 1 MB)."""
    from tiny_models import detector_cfg
    det = detector_cfg('retinanet')
    # no frozen stages: the checkpoint holds every weight
    det['backbone'].update(base_channels=8, frozen_stages=-1)
    det['neck'].update(in_channels=[8, 16, 32, 64], out_channels=32)
    det['bbox_head'].update(in_channels=32, feat_channels=32,
                            stacked_convs=1)
    # an untrained head scores about 0.01: keep its boxes
    det['test_cfg'].update(nms_pre=100, max_per_img=5, score_thr=0.0)
    return det


def legacy_cfg(tokenizer: str) -> dict:
    """The model config in the flat keywords of the old constructor."""
    from tiny_models import encoder_cfg, fusion_cfg, mrmllm_cfg
    cfg = mrmllm_cfg(
        tiny_detector(), tokenizer,
        vision_encoder=encoder_cfg(frozen=False),
        fusion=fusion_cfg(vocab_size=96),
        box_token_targets=('llm', 'fusion'),
        use_instruction_in_fusion=True,
        instruction_text='prompt',
        gt_perception=dict(prob_start=0.5, prob_end=0.5, decay_iters=1),
        lambda_det=0.5,
        lambda_lm=2.0,
        soft_answer_weight=0.3,
        region_text_weight=0.2)
    cfg['llm'].update(train_mode='full')
    return cfg


def sample_specs() -> list:
    """Two annotated images with two questions each, as plain data."""
    from tiny_models import make_sample
    specs = []
    for i in range(2):
        s = make_sample(i)
        specs.append(dict(
            metainfo=dict(s.metainfo),
            bboxes=s.gt_instances.bboxes.clone(),
            labels=s.gt_instances.labels.clone(),
            questions=list(QUESTIONS),
            gt_answers=[['two'], ['red']]))
    return specs


def build_samples(specs: list) -> list:
    """``MRMLLMDataSample`` s from :func:`sample_specs`' records."""
    from mmengine.structures import InstanceData

    from mmmrmllm.structures import MRMLLMDataSample
    out = []
    for spec in specs:
        s = MRMLLMDataSample(metainfo=copy.deepcopy(spec['metainfo']))
        s.gt_instances = InstanceData(bboxes=spec['bboxes'].clone(),
                                      labels=spec['labels'].clone())
        s.questions = list(spec['questions'])
        s.gt_answers = copy.deepcopy(spec['gt_answers'])
        out.append(s)
    return out


def run(model, record: dict) -> dict:
    """Loss (train mode) and predictions (eval mode) on ``record``'s
    inputs, seeded."""
    def data(training):
        batch = dict(inputs=dict(det=[t.clone() for t in record['det']],
                                 enc=[t.clone() for t in record['enc']]),
                     data_samples=build_samples(record['samples']))
        return model.data_preprocessor(batch, training)

    model.train()
    torch.manual_seed(1)
    losses = model(**data(True), mode='loss')
    losses = {k: (v.detach() if torch.is_tensor(v)
                  else [x.detach() for x in v]) for k, v in losses.items()}
    model.eval()
    with torch.no_grad():
        torch.manual_seed(2)
        d = data(False)
        queries = model(d['inputs'], d['data_samples'], mode='tensor')
        torch.manual_seed(3)
        d = data(False)
        out = model.predict(d['inputs'], d['data_samples'])
        torch.manual_seed(3)
        d = data(False)
        state = model.perceive(d['inputs'], d['data_samples'])
        _, prompts = model.answer(state, d['data_samples'],
                                  return_prompts=True)
    return dict(
        losses=losses,
        queries=queries.detach(),
        bboxes=[s.pred_instances.bboxes for s in out],
        scores=[s.pred_instances.scores for s in out],
        labels=[s.pred_instances.labels for s in out],
        answers=[list(s.pred_answers) for s in out],
        prompts=prompts)


def main() -> None:
    sys.path.insert(0, osp.join(osp.dirname(HERE), 'test_models'))
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    from tiny_models import make_tokenizer

    from mmmrmllm.registry import MODELS
    from mmmrmllm.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    with tempfile.TemporaryDirectory() as tmp:
        tok = make_tokenizer(osp.join(tmp, 'tok'))
        cfg = legacy_cfg(tok)
        torch.manual_seed(0)
        model = MODELS.build(copy.deepcopy(cfg))
        model.init_weights()
        g = torch.Generator().manual_seed(0)
        record = dict(
            det=[torch.randint(0, 256, (3, 64, 64), generator=g,
                               dtype=torch.uint8) for _ in range(2)],
            enc=[torch.randint(0, 256, (3, 32, 32), generator=g,
                               dtype=torch.uint8) for _ in range(2)],
            samples=sample_specs())
        outputs = run(model, record)
        # as mmengine's CheckpointHook saves it (with ``_metadata``)
        state = model.state_dict()
        assert not model.frozen_state_keys(), model.frozen_state_keys()
    cfg['llm']['tokenizer'] = None  # the test makes its own
    torch.save(
        dict(meta=dict(note='tiny joint MR-MLLM, flat-keyword constructor',
                       cfg=cfg),
             state_dict=state, inputs=record, outputs=outputs), OUT)
    print(f'{OUT}: {osp.getsize(OUT) / 1e6:.2f} MB, '
          f'{len(state)} keys, answers {outputs["answers"]}')


if __name__ == '__main__':
    main()
