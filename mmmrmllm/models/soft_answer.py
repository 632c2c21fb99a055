"""An auxiliary loss of vision-language pre-training: the soft visual
tokens name the answer.

A small LLM trained on text alone cannot be steered by soft tokens it has
never seen, and once it trains it learns each question's answer prior
faster than the new visual path learns anything: the gradient into the
vision tower and Q-Former then fades (measured in docs/main_job.md). This
loss gives the visual path a direct target, as BLIP-2's first stage gives
its Q-Former losses of its own: the LLM's output head, applied to each
(instruction-aware) soft token, must score the answer's first token, the
best-scoring token counting (log-sum-exp over the tokens). The soft tokens
then carry the answer in the LLM's own word space, where a model that
learnt to look words up in its prompt can read it. It adds no parameter,
so the exported InstructBLIP is unchanged.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def soft_answer_loss(llm, visual: Sequence[Tensor], prompts: Sequence,
                     num_soft: int) -> Tensor:
    """Cross-entropy of each sequence's first answer token, read from its
    soft tokens by the LLM's output head.

    Args:
        llm (LLMHead): The LLM (its ``model.get_output_embeddings()``).
        visual (Sequence[Tensor]): Per sequence (Nv, H), soft tokens first.
        prompts (Sequence[EncodedPrompt]): With answers.
        num_soft (int): Soft tokens per sequence (the rest are box tokens).

    Returns:
        Tensor: The mean over sequences with an answer (0 if none).
    """
    head = llm.model.get_output_embeddings()
    rows, targets = [], []
    for v, p in zip(visual, prompts):
        if p.answer:
            rows.append(v[:num_soft])
            targets.append(p.answer[0])
    if not rows:
        return head.weight.sum() * 0
    logits = head(torch.stack(rows).to(head.weight.dtype)).float()
    pooled = torch.logsumexp(logits, dim=1)  # (S, V): any token may say it
    target = torch.as_tensor(targets, device=pooled.device)
    return F.cross_entropy(pooled, target)
