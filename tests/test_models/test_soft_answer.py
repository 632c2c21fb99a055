"""The auxiliary soft-answer loss: the LLM's output head reads each
answer's first token from the soft tokens."""
import torch
from tiny_models import llm_cfg, make_tokenizer

from mmmrmllm.models import LLMHead
from mmmrmllm.models.llm.prompt_encoding import EncodedPrompt
from mmmrmllm.models.soft_answer import soft_answer_loss


def test_loss_is_low_when_a_soft_token_names_the_answer(tmp_path):
    tok = make_tokenizer(str(tmp_path / 'tok'))
    torch.manual_seed(0)
    cfg = llm_cfg('llama', tok)
    cfg.pop('type')
    llm = LLMHead(**dict(cfg, train_mode='frozen'))
    head = llm.model.get_output_embeddings().weight
    red = llm.tokenizer(' red', add_special_tokens=False).input_ids[0]
    blue = llm.tokenizer(' blue', add_special_tokens=False).input_ids[0]
    prompts = [EncodedPrompt([], [5], [red, 2]),
               EncodedPrompt([], [5], [blue, 2]),
               EncodedPrompt([], [5], [])]  # no answer: not counted
    noise = torch.randn(3, 4, head.shape[1]) * 0.01

    def word(i):  # a soft token whose logit for token i is 30
        return head[i] * 30 / head[i].pow(2).sum()

    named = noise.clone()
    named[0, 2] = word(red)  # one of the four tokens names it
    named[1, 0] = word(blue)
    swapped = noise.clone()
    swapped[0, 2] = word(blue)
    swapped[1, 0] = word(red)
    low = soft_answer_loss(llm, list(named), prompts, 4)
    high = soft_answer_loss(llm, list(swapped), prompts, 4)
    flat = soft_answer_loss(llm, list(noise), prompts, 4)
    assert low < 0.1 < flat < high
    # box tokens after the soft ones are not read
    boxed = [torch.cat([n, torch.zeros(1, head.shape[1])])
             for n in noise]
    boxed[0][-1] = word(red)
    torch.testing.assert_close(
        soft_answer_loss(llm, boxed, prompts, 4), flat)
    # no answer at all: a zero that backward accepts
    zero = soft_answer_loss(llm, list(noise), prompts[2:], 4)
    assert float(zero) == 0.0
