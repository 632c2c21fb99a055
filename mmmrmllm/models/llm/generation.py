"""Generation of :class:`LLMHead`: batched, left-padded, from embeddings
(visual tokens + prompt), with the KV cache."""
from typing import List, Sequence

import torch
from torch import Tensor

from .prompt_encoding import EncodedPrompt


class GenerationMixin:
    """Generation of :class:`LLMHead` (its ``model``, ``tokenizer``,
    ``generation_cfg``, ``pad_token_id``, ``eos_token_id`` and
    ``_assemble``)."""

    @torch.no_grad()
    def next_token_logits(self, visual: Sequence[Tensor],
                          prompts: Sequence[EncodedPrompt]) -> Tensor:
        """The LLM's logits for the token after each prompt (the first
        answer token), computed as :meth:`generate` computes its first
        step (left padding, positions counted from each sequence's start).

        Args:
            visual (Sequence[Tensor]): Per sequence (Nv_i, H).
            prompts (Sequence[EncodedPrompt]): Without answers.

        Returns:
            Tensor: (S, vocab) float logits.
        """
        x, mask, _ = self._assemble(visual, prompts, left_pad=True)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(inputs_embeds=x, attention_mask=mask,
                         position_ids=pos, use_cache=False)
        return out.logits[:, -1].float()

    @torch.no_grad()
    def generate_ids(self, visual: Sequence[Tensor],
                     prompts: Sequence[EncodedPrompt], **kwargs) -> Tensor:
        """The new token ids of batched generation (left-padded, KV
        cache; greedy, sampled or beam search as ``generation_cfg`` says).

        Args:
            visual (Sequence[Tensor]): Per sequence (Nv_i, H).
            prompts (Sequence[EncodedPrompt]): Without answers.
            **kwargs: Override ``generation_cfg``.

        Returns:
            Tensor: (S, T) ids; the model is given ``inputs_embeds`` only,
            so they are the generated tokens alone, and ``max_length`` /
            ``min_length`` would count the prompt: give
            ``max_new_tokens`` / ``min_new_tokens``.
        """
        x, mask, _ = self._assemble(visual, prompts, left_pad=True)
        cfg = dict(self.generation_cfg, **kwargs)
        # at least one token before EOS, as LAVIS' settings: an empty
        # string is never an answer
        cfg.setdefault('min_new_tokens', 1)
        cfg.setdefault('pad_token_id', self.pad_token_id)
        cfg.setdefault('eos_token_id', self.eos_token_id)
        return self.model.generate(
            inputs_embeds=x, attention_mask=mask, use_cache=True, **cfg)

    @torch.no_grad()
    def generate(self, visual: Sequence[Tensor],
                 prompts: Sequence[EncodedPrompt], **kwargs) -> List[str]:
        """Batched generation (:meth:`generate_ids`), decoded.

        Args:
            visual (Sequence[Tensor]): Per sequence (Nv_i, H).
            prompts (Sequence[EncodedPrompt]): Without answers.
            **kwargs: Override ``generation_cfg``.

        Returns:
            list[str]: One stripped answer per sequence.
        """
        if not prompts:
            return []
        ids = self.generate_ids(visual, prompts, **kwargs)
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [t.strip() for t in texts]
