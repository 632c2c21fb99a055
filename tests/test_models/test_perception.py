import pytest
import torch

from mmmrmllm.models import (
    BoxTokenEncoder,
    DetectionPromptGenerator,
    PerceptionFeedback,
)

NAMES = ['circle', 'square', 'triangle']


def dets():
    boxes = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.0, 0.9, 0.3],
                          [0.0, 0.6, 0.2, 0.9]])
    return boxes, torch.tensor([0, 1, 0]), torch.tensor([0.9, 0.2, 0.6])


def test_prompt_generator_options():
    boxes, labels, scores = dets()
    gen = DetectionPromptGenerator(score_thr=0.3)
    text = gen(boxes, labels, scores, NAMES)
    assert text == ('Detected: circle [0.100, 0.200, 0.300, 0.400] 0.90; '
                    'circle [0.000, 0.600, 0.200, 0.900] 0.60.\n')
    gen = DetectionPromptGenerator(
        score_thr=0.0, max_objects=2, coord_style='int999', sort='position',
        with_counts=True, object_template='{name} {box}')
    text = gen(boxes, labels, scores, NAMES)
    assert text == ('Counts: 2 circle. Detected: circle [100, 200, 300, 400]'
                    '; circle [0, 600, 200, 900].\n')
    objects = gen.select(boxes, labels, scores)
    # Dropping for the context removes the lowest score first.
    assert '[0, 600' not in gen.render(objects, NAMES, num_drop=1)
    assert gen.render(objects, NAMES, num_drop=5) == gen.empty_text
    empty = torch.zeros(0, 4), torch.zeros(0).long(), torch.zeros(0)
    assert gen(*empty, NAMES) == 'Detected: no objects.\n'
    drop = DetectionPromptGenerator(score_thr=0.0, drop_rate=1.0)
    assert len(drop.select(boxes, labels, scores, training=True)) == 0
    assert len(drop.select(boxes, labels, scores, training=False)) == 3
    with pytest.raises(ValueError):
        DetectionPromptGenerator(coord_style='pixels')


def test_perception_encoder_tokens():
    enc = BoxTokenEncoder(label_dims=8, out_dims=dict(fusion=16, llm=12),
                            embed_dims=32, num_freqs=4)
    boxes, labels, scores = dets()
    label_embeds = torch.randn(4, 8)  # 4th: a class never trained on
    out = enc([boxes, boxes[:0], boxes[:1]],
              [labels, labels[:0], torch.tensor([3])],
              [scores, scores[:0], scores[:1]], label_embeds)
    tokens, mask = out['fusion']
    assert tokens.shape == (3, 3, 16) and out['llm'][0].shape == (3, 3, 12)
    assert mask.sum(1).tolist() == [3, 0, 1]
    assert [t.shape[0] for t in enc.split(*out['llm'])] == [3, 0, 1]
    with pytest.raises(ValueError):
        BoxTokenEncoder(label_dims=8, out_dims=dict(decoder=4))


def test_feedback_zero_gate_is_identity():
    fb = PerceptionFeedback(in_channels=16, query_dims=8, num_heads=4)
    feats = (torch.randn(2, 16, 4, 4), torch.randn(2, 16, 2, 2))
    q = torch.randn(2, 5, 8, requires_grad=True)
    out = fb(feats, q)
    for a, b in zip(out, feats):
        assert torch.equal(a, b)
    sum(o.sum() for o in out).backward()
    assert fb.gate.grad.abs().sum() > 0
    with torch.no_grad():
        fb.gate.fill_(0.1)
    q.grad = None
    sum(o.sum() for o in fb(feats, q)).backward()
    assert q.grad.abs().sum() > 0


def test_feedback_with_levels_of_different_widths():
    """YOLOv3 / SSD necks: each level keeps its width; zero gates leave the
    features untouched, open gates change every level."""
    from mmmrmllm.models.feedback import PerceptionFeedback
    fb = PerceptionFeedback(in_channels=[8, 16, 32], query_dims=12,
                            num_heads=4)
    assert fb.level_embed.shape == (3, 32)
    feats = [torch.randn(2, c, s, s) for c, s in ((8, 8), (16, 4), (32, 2))]
    queries = torch.randn(2, 5, 12)
    out = fb(feats, queries)
    for x, y in zip(feats, out):
        assert torch.equal(x, y)
    with torch.no_grad():
        for g in fb.level_gates:
            g.fill_(0.5)
    out = fb(feats, queries)
    for x, y in zip(feats, out):
        assert y.shape == x.shape and not torch.allclose(x, y)
    with pytest.raises(ValueError, match='in_channels'):
        fb(feats[:2], queries)
    # one width given as a list: the one-width module, as before
    same = PerceptionFeedback(in_channels=[16, 16], query_dims=12)
    assert same.level_widths is None and hasattr(same, 'gate')


def test_gates_can_start_open():
    from tiny_models import fusion_cfg

    from mmmrmllm.models import SharedQueryFusion
    from mmmrmllm.models.feedback import PerceptionFeedback
    fb = PerceptionFeedback(in_channels=16, query_dims=12, gate_init=0.1)
    assert torch.allclose(fb.gate, torch.full((16, ), 0.1))
    fb = PerceptionFeedback(in_channels=[8, 16], query_dims=12,
                            gate_init=0.1)
    assert all(torch.allclose(g, torch.full_like(g, 0.1))
               for g in fb.level_gates)
    fusion = SharedQueryFusion(vision_dims=32, det_feat_dims=16,
                               p_gate_init=0.1, **fusion_cfg())
    assert fusion.p_gate.item() == pytest.approx(0.1)
