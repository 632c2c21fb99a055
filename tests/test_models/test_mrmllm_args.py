"""MRMLLM's grouped constructor and the flat keywords of the previous
release: the same model from either form, a warning for the old one."""
import copy
import inspect
import warnings

import pytest
import torch
from tiny_models import fusion_cfg, make_sample, make_tokenizer, mrmllm_cfg
from tiny_models import preprocess as prep

from mmmrmllm.models import MRMLLM
from mmmrmllm.models.mrmllm_args import FLAT_KEYS, GROUP_DEFAULTS
from mmmrmllm.registry import MODELS

SCHEDULE = dict(prob_start=0.5, prob_end=0.5, decay_iters=1)
CLASSES = ('circle', 'square', 'triangle')

# every flat keyword but pretrained_mllm (a directory; test_pretrained*)
FLAT = dict(
    use_det_feats_in_fusion=True,
    use_feedback=True,
    use_box_tokens=True,
    box_token_targets=('llm', 'fusion'),
    use_perception_prompt=True,
    detach_perception=True,
    detection_source='pred',
    gt_noise=0.1,
    gt_perception=SCHEDULE,
    class_names=CLASSES,
    use_instruction_in_fusion=True,
    instruction_tokenizer=None,
    instruction_text='question',
    lambda_det=0.5,
    lambda_lm=2.0,
    soft_answer_weight=0.1,
    region_text_weight=0.2,
    region_text=dict(embed_dims=16),
    detector_checkpoint=None,
    drop_mask_branch=False,
    lazy_init_weights=False,
    generation_cfg=dict(max_new_tokens=3))
GROUPED = dict(
    couplings=dict(det_feats_in_fusion=True, feedback=True, box_tokens=True,
                   box_token_targets=('llm', 'fusion'),
                   perception_prompt=True, detach_det_feats=True),
    detections=dict(source='pred', gt_noise=0.1, gt_schedule=SCHEDULE,
                    class_names=CLASSES),
    mllm=dict(instruction_in_fusion=True, instruction_tokenizer=None,
              instruction_text='question'),
    losses=dict(det_weight=0.5, lm_weight=2.0, soft_answer_weight=0.1,
                region_text_weight=0.2, region_text=dict(embed_dims=16)),
    init=dict(detector_checkpoint=None, drop_mask_branch=False,
              lazy_load=False))


@pytest.fixture(scope='module')
def tok(tmp_path_factory):
    return make_tokenizer(str(tmp_path_factory.mktemp('tok')))


def base(tok) -> dict:
    cfg = mrmllm_cfg('retinanet', tok, fusion=fusion_cfg(vocab_size=96))
    cfg.pop('detections')
    return cfg


def build(cfg: dict):
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(cfg))


def outputs(model):
    samples = [make_sample(0), make_sample(1)]
    model.train()
    torch.manual_seed(1)
    losses = model(**prep(model, samples), mode='loss')
    model.eval()
    with torch.no_grad():
        out = model.predict(**prep(model, samples, training=False))
    return losses, [s.pred_answers for s in out], \
        [s.pred_instances.bboxes for s in out]


def test_at_most_15_parameters():
    params = inspect.signature(MRMLLM.__init__).parameters
    assert len(params) - 1 <= 15  # self


def test_every_flat_keyword_has_a_home():
    for old, (group, key) in FLAT_KEYS.items():
        assert group == 'llm' or key in GROUP_DEFAULTS[group], old
    assert set(FLAT) == set(FLAT_KEYS) - {'pretrained_mllm'}


def test_flat_and_grouped_forms_build_the_same_model(tok):
    grouped = dict(base(tok), **GROUPED)
    grouped['llm']['generation_cfg'] = dict(max_new_tokens=3)
    with warnings.catch_warnings():
        warnings.simplefilter('error', DeprecationWarning)
        new = build(grouped)  # the grouped form does not warn
    with pytest.warns(DeprecationWarning) as record:
        old = build(dict(base(tok), **FLAT))
    said = ' '.join(str(w.message) for w in record)
    for key in FLAT:
        group, new_key = FLAT_KEYS[key]
        assert repr(key) in said and f'{group}.{new_key}' in said, key
    a, b = new.state_dict(), old.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    for attr in ('variant', 'use_feedback', 'use_box_tokens',
                 'use_det_feats_in_fusion', 'use_perception_prompt',
                 'detach_perception', 'detection_source', 'lambda_det',
                 'lambda_lm', 'soft_answer_weight', 'region_text_weight',
                 'class_names', 'instruction_text', 'lazy_init_weights'):
        assert getattr(new, attr) == getattr(old, attr), attr
    assert new.llm.generation_cfg == old.llm.generation_cfg
    assert new.llm.generation_cfg['max_new_tokens'] == 3
    assert new.instruction_tokenizer is not None
    (la, ans_a, box_a), (lb, ans_b, box_b) = outputs(new), outputs(old)
    assert ans_a == ans_b
    for x, y in zip(box_a, box_b, strict=True):
        assert torch.equal(x, y)
    assert set(la) == set(lb) >= {'det.loss_cls', 'lm.loss_lm',
                                  'lm.loss_soft_answer'}
    for k in la:
        torch.testing.assert_close(la[k], lb[k], rtol=0, atol=0)


def test_a_flat_keyword_overrides_its_group(tok):
    cfg = dict(base(tok), couplings=dict(feedback=True), use_feedback=False,
               detections=dict(class_names=CLASSES))
    with pytest.warns(DeprecationWarning, match='couplings.feedback'):
        model = build(cfg)
    assert model.use_feedback is False and model.feedback is None


def test_unknown_keys_are_refused(tok):
    with pytest.raises(TypeError, match='use_feedbak'):
        build(dict(base(tok), use_feedbak=False))
    with pytest.raises(TypeError, match="'feedbak' in couplings"):
        build(dict(base(tok), couplings=dict(feedbak=False)))


def test_perception_pass_mixin_alias_warns():
    import mmmrmllm.models.perception_pass as pp
    with pytest.warns(DeprecationWarning, match='PerceptionPassMixin'):
        mixin = pp.PerceptionPassMixin
    assert mixin._perceive is MRMLLM._perceive
    assert mixin._det_pass is MRMLLM._det_pass
    with pytest.raises(AttributeError):
        pp.NoSuchName
