import pytest
import torch
from tiny_models import fusion_cfg

from mmmrmllm.models import SharedQueryFusion, load_qformer
from mmmrmllm.models.fusion import resample_to_grid


def tiny_instructblip(path, text='llama'):
    from transformers import (
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
    )
    text_cfg = dict(
        model_type=text, vocab_size=96, hidden_size=32,
        intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128)
    cfg = InstructBlipConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64,
                           num_hidden_layers=1, num_attention_heads=4,
                           image_size=32, patch_size=8),
        qformer_config=dict(hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=64,
                            vocab_size=64, encoder_hidden_size=32,
                            max_position_embeddings=32,
                            cross_attention_frequency=1),
        text_config=text_cfg,
        num_query_tokens=4)
    torch.manual_seed(0)
    model = InstructBlipForConditionalGeneration(cfg).eval()
    model.save_pretrained(path)
    return model


def test_qformer_matches_instructblip(tmp_path):
    hf = tiny_instructblip(str(tmp_path))
    fusion = SharedQueryFusion(vision_dims=32, det_feat_dims=16,
                               **fusion_cfg()).eval()
    report = load_qformer(fusion, str(tmp_path))
    assert not report['unexpected']
    assert all(k.startswith(('p_proj', 'p_gate')) or 'perception_gate' in k
               for k in report['missing']), report['missing']
    image = torch.randn(2, 17, 32)
    ids = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
    mask = (ids > 0).long()
    with torch.no_grad():
        q = hf.query_tokens.expand(2, -1, -1)
        ref = hf.qformer(
            input_ids=ids,
            attention_mask=torch.cat([torch.ones(2, 4).long(), mask], 1),
            query_embeds=q,
            encoder_hidden_states=image,
            encoder_attention_mask=torch.ones(2, 17).long())[0][:, :4]
        ours = fusion(image, 1, (4, 4), instruction_ids=ids,
                      instruction_mask=mask)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
        # Without instruction tokens, too.
        ref = hf.qformer(
            input_ids=None, query_embeds=q, encoder_hidden_states=image)[0]
        torch.testing.assert_close(fusion(image, 1, (4, 4)), ref, atol=1e-5,
                                   rtol=0)
        # Perception present but gates at zero: still the Q-Former.
        feats = [torch.randn(2, 16, 8, 8), torch.randn(2, 16, 4, 4)]
        tokens = torch.randn(2, 3, 32)
        out = fusion(image, 1, (4, 4), perception_feats=feats,
                     valid_hw=[(64, 64), (64, 48)], pad_hw=(64, 64),
                     perception_tokens=tokens)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize('mode', ['sum', 'concat'])
def test_gates_and_gradients(mode):
    fusion = SharedQueryFusion(vision_dims=32, det_feat_dims=16,
                               perception_merge=mode, **fusion_cfg())
    image = torch.randn(2, 17, 32)
    feats = [torch.randn(2, 16, 8, 8, requires_grad=True)]
    kw = dict(perception_feats=feats, valid_hw=[(64, 64)] * 2,
              pad_hw=(64, 64))
    base = fusion(image, 1, (4, 4))
    out = fusion(image, 1, (4, 4), **kw)
    torch.testing.assert_close(out, base)
    # A plain sum of LayerNorm outputs has no gradient: weight it.
    weight = torch.randn_like(out)
    (out * weight).sum().backward()
    gates = [p.grad for n, p in fusion.named_parameters() if 'gate' in n]
    assert any(g is not None and g.abs().sum() > 0 for g in gates)
    with torch.no_grad():
        for n, p in fusion.named_parameters():
            if 'gate' in n:
                p.fill_(0.5)
    out = fusion(image, 1, (4, 4), **kw)
    assert not torch.allclose(out, base)
    feats[0].grad = None
    (out * weight).sum().backward()
    assert feats[0].grad.abs().sum() > 0


def test_resample_ignores_padding():
    level = torch.zeros(1, 1, 8, 8)
    level[..., :4, :8] = 1.0
    level[..., 4:, :] = 1e6  # padding rows
    out = resample_to_grid([level], [(32, 64)], (64, 64), (2, 2))
    torch.testing.assert_close(out, torch.ones(1, 4, 1))


@pytest.mark.parametrize('mode', ['sum', 'concat'])
def test_levels_of_different_widths(mode):
    """Per-level 1x1 projections (YOLOv3 / SSD necks): every level's
    features reach the queries once the gates open."""
    fusion = SharedQueryFusion(vision_dims=32, det_feat_dims=[8, 16, 24],
                               perception_merge=mode, **fusion_cfg())
    assert len(fusion.p_level_proj) == 3
    image = torch.randn(2, 17, 32)
    feats = [torch.randn(2, c, s, s, requires_grad=True)
             for c, s in ((8, 8), (16, 4), (24, 2))]
    kw = dict(perception_feats=feats, valid_hw=[(64, 64)] * 2,
              pad_hw=(64, 64))
    torch.testing.assert_close(fusion(image, 1, (4, 4), **kw),
                               fusion(image, 1, (4, 4)))
    with torch.no_grad():
        for n, p in fusion.named_parameters():
            if 'gate' in n:
                p.fill_(0.5)
    out = fusion(image, 1, (4, 4), **kw)
    (out * torch.randn_like(out)).sum().backward()
    assert all(f.grad.abs().sum() > 0 for f in feats)
    with pytest.raises(ValueError, match='det_feat_dims'):
        fusion(image, 1, (4, 4), **dict(kw, perception_feats=feats[:2]))
    # one width as a list: the single projection of before
    one = SharedQueryFusion(vision_dims=32, det_feat_dims=[16, 16],
                            **fusion_cfg())
    assert one.p_level_proj is None
