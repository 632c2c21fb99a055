"""Generation of :class:`LLMHead`: batched, left-padded, from embeddings
(visual tokens + prompt), with the KV cache.

Questions about one image share the start of their sequences (the visual
tokens, in the template layout also the text before them and the prompt up
to the question). That shared prefix runs through the LLM once per image;
each question's remaining tokens continue from a copy of its key/value
cache (:meth:`GenerationMixin.generate_ids`). Only what is truly the same
is shared: with an instruction-aware Q-Former the soft tokens depend on the
question, so in InstructBLIP's layout (soft tokens first) the sequences
of one image share nothing and run as before.
"""
from typing import List, NamedTuple, Optional, Sequence

import torch
from torch import Tensor

from .prompt_encoding import EncodedPrompt


class SharedPrefixes(NamedTuple):
    """How a batch of sequences splits into shared prefixes + rests.

    Attributes:
        group (list[int]): Per sequence, the index of its prefix.
        length (list[int]): Per prefix, its number of positions.
    """
    group: List[int]
    length: List[int]


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def shared_prefixes(visual: Sequence[Tensor],
                    prompts: Sequence[EncodedPrompt]
                    ) -> Optional[SharedPrefixes]:
    """Group consecutive sequences that start alike: the same text before
    the visual tokens, equal visual tokens; the prefix they share ends
    where their text after the visual tokens first differs, one position
    before the shortest one ends (its last token must be fed to give the
    first answer token's logits).

    Returns:
        SharedPrefixes | None: None when no two sequences share a prefix.
    """
    group, length = [], []
    start = 0
    for i, (v, p) in enumerate(zip(visual, prompts)):
        first_v, first_p = visual[start], prompts[start]
        common = 0
        if i > start and p.prefix == first_p.prefix and (
                v is first_v or (v.shape == first_v.shape
                                 and torch.equal(v, first_v))):
            common = len(p.prefix) + len(v) + _common_length(
                first_p.suffix, p.suffix)
        if not common:
            start = i
            group.append(len(length))
            length.append(p.prompt_len(len(v)) - 1)
            continue
        group.append(group[start])
        length[-1] = min(length[-1], common, p.prompt_len(len(v)) - 1)
    if len(length) == len(group):
        return None
    return SharedPrefixes(group, length)


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
            **kwargs: Override ``generation_cfg``; ``share_prefix=False``
                runs every sequence whole (what the shared prefixes are
                checked against).

        Returns:
            Tensor: (S, T) ids; the model is given ``inputs_embeds`` only,
            so they are the generated tokens alone, and ``max_length`` /
            ``min_length`` would count the prompt: give
            ``max_new_tokens`` / ``min_new_tokens``.
        """
        cfg = dict(self.generation_cfg, **kwargs)
        # at least one token before EOS, as LAVIS' settings: an empty
        # string is never an answer
        cfg.setdefault('min_new_tokens', 1)
        share = cfg.pop('share_prefix', True)
        cfg.setdefault('pad_token_id', self.pad_token_id)
        cfg.setdefault('eos_token_id', self.eos_token_id)
        plan = shared_prefixes(visual, prompts) \
            if share and self._can_share_prefix(cfg) else None
        if plan is not None:
            return self._generate_from_prefixes(visual, prompts, plan, cfg)
        x, mask, _ = self._assemble(visual, prompts, left_pad=True)
        return self.model.generate(
            inputs_embeds=x, attention_mask=mask, use_cache=True, **cfg)

    def _can_share_prefix(self, cfg: dict) -> bool:
        """Whether generation can continue from a given cache: a model on
        transformers' ``Cache`` classes, decoded greedily, by sampling or
        by plain beam search (the others reach into the cache
        themselves)."""
        gen = self.model.generation_config
        special = ('penalty_alpha', 'assistant_model', 'num_beam_groups',
                   'prompt_lookup_num_tokens', 'past_key_values')
        return getattr(self.model, '_supports_cache_class', False) and \
            not any(cfg.get(k, getattr(gen, k, None)) not in (None, 1)
                    for k in special)

    def _embed_sequence(self, v: Tensor, p: EncodedPrompt) -> Tensor:
        """(T, H) embeddings of one prompt (no answer), as
        :meth:`_assemble` lays it out."""
        emb = self.model.get_input_embeddings()
        ids = torch.tensor(p.prefix + p.suffix, dtype=torch.long,
                           device=emb.weight.device)
        t = emb(ids)
        n = len(p.prefix)
        return torch.cat([t[:n], v.to(t.dtype), t[n:]], dim=0)

    def _generate_from_prefixes(self, visual: Sequence[Tensor],
                                prompts: Sequence[EncodedPrompt],
                                plan: SharedPrefixes, cfg: dict) -> Tensor:
        """:meth:`generate_ids` with each shared prefix run once.

        Row ``i`` of the batch is ``[pad | prefix | pad | rest_i]``: the
        prefixes, left-padded, fill the key/value cache (one row per
        prefix, then copied to its sequences and beams), and ``generate``
        feeds only the rests (left-padded too). Positions count the
        unmasked tokens, as in the uncached ``[pad | prefix | rest_i]``,
        so every real token sees the same keys at the same positions.
        """
        from transformers import DynamicCache
        seqs = [self._embed_sequence(v, p) for v, p in zip(visual, prompts)]
        firsts = {}
        for i, g in enumerate(plan.group):
            firsts.setdefault(g, i)
        heads = [seqs[firsts[g]][:n] for g, n in enumerate(plan.length)]
        rests = [s[plan.length[g]:] for s, g in zip(seqs, plan.group)]
        pre_x, pre_mask = self._left_pad(heads)
        pos = pre_mask.cumsum(-1) - 1
        pos.masked_fill_(pre_mask == 0, 1)
        out = self.model(inputs_embeds=pre_x, attention_mask=pre_mask,
                         position_ids=pos, use_cache=True)
        cache = out.past_key_values
        if not isinstance(cache, DynamicCache):
            cache = DynamicCache.from_legacy_cache(cache)
        rows = torch.tensor(plan.group, device=pre_x.device)
        cache.batch_select_indices(rows)
        gen = self.model.generation_config
        beams = cfg.get('num_beams', gen.num_beams) or 1
        copies = beams if beams > 1 else (cfg.get(
            'num_return_sequences', gen.num_return_sequences) or 1)
        if copies > 1:
            cache.batch_repeat_interleave(copies)
        rest_x, rest_mask = self._left_pad(rests)
        # the prefix columns are never fed (the cache holds them)
        x = torch.cat([pre_x.new_zeros(len(rows), *pre_x.shape[1:]), rest_x],
                      1)
        mask = torch.cat([pre_mask[rows], rest_mask], 1)
        return self.model.generate(
            inputs_embeds=x, attention_mask=mask, past_key_values=cache,
            use_cache=True, **cfg)

    def _left_pad(self, seqs: Sequence[Tensor]):
        """(B, T, H) left-padded with the pad token's embedding, and the
        (B, T) mask."""
        emb = self.model.get_input_embeddings()
        dev = emb.weight.device
        pad = emb(torch.tensor([self.pad_token_id], device=dev))[0]
        length = max(len(s) for s in seqs)
        x = pad.to(seqs[0].dtype).expand(len(seqs), length, -1).clone()
        mask = torch.zeros(len(seqs), length, dtype=torch.long, device=dev)
        for i, s in enumerate(seqs):
            x[i, length - len(s):] = s
            mask[i, length - len(s):] = 1
        return x, mask

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
