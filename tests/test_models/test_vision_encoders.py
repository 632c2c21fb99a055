import torch
from tiny_models import encoder_cfg

from mmmrmllm.registry import MODELS


def check(enc, prefix, grid, dims=32):
    out = enc(torch.randn(2, 3, 32, 32))
    assert out.tokens.shape == (2, prefix + grid[0] * grid[1], dims)
    assert out.num_prefix == prefix and tuple(out.grid) == grid
    assert enc.embed_dims == dims


def test_hf_clip_config_and_dir(tmp_path):
    enc = MODELS.build(encoder_cfg())
    check(enc, 1, (4, 4))
    assert not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.training
    enc.model.save_pretrained(str(tmp_path))
    again = MODELS.build(
        dict(type='HFVisionEncoder', name_or_path=str(tmp_path),
             frozen=False, feature_layer=-2))
    assert all(p.requires_grad for p in again.parameters())
    check(again, 1, (4, 4))
    # the saved weights, and the hidden state before the last layer
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        states = enc.model(pixel_values=images,
                           output_hidden_states=True).hidden_states
        torch.testing.assert_close(enc(images).tokens, states[-1])
        torch.testing.assert_close(again(images).tokens, states[-2])
    assert not torch.allclose(states[-2], states[-1])


def test_hf_siglip_and_instructblip():
    siglip = MODELS.build(
        encoder_cfg(model_cfg=dict(
            model_type='siglip_vision_model', hidden_size=32,
            intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=4, image_size=32, patch_size=8)))
    check(siglip, 0, (4, 4))
    blip = MODELS.build(
        encoder_cfg(model_cfg=dict(
            model_type='instructblip_vision_model', hidden_size=32,
            intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=4, image_size=32, patch_size=8)))
    check(blip, 1, (4, 4))


def test_mmpretrain_vit():
    enc = MODELS.build(
        dict(
            type='MMVisionEncoder',
            backbone=dict(
                type='mmpretrain.VisionTransformer',
                arch=dict(embed_dims=32, num_layers=1, num_heads=4,
                          feedforward_channels=64),
                img_size=32,
                patch_size=8)))
    check(enc, 1, (4, 4))
    assert not any(p.requires_grad for p in enc.parameters())
