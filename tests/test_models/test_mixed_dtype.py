"""The paper config's dtypes without autocast: a frozen bf16 LLM next to
fp32 detector, fusion and box-token encoder (configs/mrmllm_dino_vicuna.py
sets ``llm.torch_dtype='bfloat16'``)."""
import torch
from tiny_models import make_sample, make_tokenizer, mrmllm_cfg, preprocess

from mmmrmllm.registry import MODELS
from mmmrmllm.utils import register_all_modules

register_all_modules()


def test_bf16_frozen_llm_with_fp32_parts_trains_and_predicts(tmp_path):
    torch.manual_seed(0)
    cfg = mrmllm_cfg('retinanet', make_tokenizer(str(tmp_path)))
    cfg['llm'].update(torch_dtype='bfloat16', train_mode='frozen')
    model = MODELS.build(cfg)
    assert model.llm.model.dtype == torch.bfloat16
    assert model.perception_encoder.norm.weight.dtype == torch.float32
    samples = [make_sample(0), make_sample(1)]
    model.train()
    losses = model(**preprocess(model, samples), mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    # the LM loss reaches the fp32 parts through the bf16 LLM (box tokens
    # of an untrained detector's low scores are masked: no gradient there)
    for part in (model.fusion, model.language_projection):
        grads = [p.grad for p in part.parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), part
    model.eval()
    with torch.no_grad():
        out = model(**preprocess(model, samples, training=False),
                    mode='predict')
    assert len(out) == 2 and all(len(s.pred_answers) for s in out)
