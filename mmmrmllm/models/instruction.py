"""Instruction-aware shared queries (InstructBLIP's Q-Former).

With ``MRMLLM(use_instruction_in_fusion=True)`` the question's tokens join
the fusion's self-attention, so the soft tokens the LLM reads are computed
for each (image, question) pair. The detector's feedback keeps the
image's instruction-free queries (one per image, before any question is
known), so detection does not depend on the questions asked.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmmrmllm.structures import questions_of


class InstructionTokenizer:
    """Questions → fusion instruction ids, padded and truncated to the
    fusion's position table.

    Args:
        tokenizer: A Hugging Face tokenizer (the LLM's, or one loaded from
            a local directory such as InstructBLIP's ``qformer_tokenizer``).
        fusion (nn.Module): The :class:`SharedQueryFusion` it feeds.
        source (str): Where the tokenizer came from, for error messages.

    Raises:
        ValueError: If the tokenizer's ids do not fit the fusion's
            vocabulary. (No pad token is needed: the padding is masked.)
    """

    def __init__(self, tokenizer, fusion: nn.Module, source: str) -> None:
        vocab = fusion.embeddings.word_embeddings.num_embeddings
        if len(tokenizer) > vocab:
            raise ValueError(
                f'use_instruction_in_fusion: the instruction tokenizer '
                f"({source}) has {len(tokenizer)} tokens but the fusion's "
                f'vocabulary is fusion.vocab_size={vocab}; raise '
                'fusion.vocab_size or set instruction_tokenizer to a local '
                'tokenizer directory that fits')
        self.tokenizer = tokenizer
        self.max_length = fusion.embeddings.position_embeddings.num_embeddings

    def __call__(self, questions: Sequence[str],
                 device: torch.device) -> Tuple[Tensor, Tensor]:
        rows = [
            self.tokenizer(q, truncation=True,
                           max_length=self.max_length)['input_ids']
            for q in questions
        ]
        width = max(1, max(len(r) for r in rows))
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.as_tensor(r, dtype=torch.long)
            mask[i, :len(r)] = 1
        return ids.to(device), mask.to(device)


def load_instruction_tokenizer(path: Optional[str], llm, fusion: nn.Module
                               ) -> InstructionTokenizer:
    """The LLM's tokenizer (``path=None``) or a local one."""
    if path is None:
        return InstructionTokenizer(llm.tokenizer, fusion,
                                    "the LLM's tokenizer")
    from transformers import AutoTokenizer
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f'instruction_tokenizer {path!r}: not a local tokenizer '
            f'directory ({type(err).__name__})') from err
    return InstructionTokenizer(tok, fusion, path)


def sequence_questions(samples: Sequence) -> List[str]:
    """The question of each LLM sequence, in sequence order (the questions
    skipped as too long have no sequence)."""
    out = []
    for s in samples:
        skipped = set(s.metainfo.get('skipped_questions', ()))
        out += [
            q for j, q in enumerate(questions_of(s))
            if j not in skipped
        ]
    return out


def instructed_queries(fusion: nn.Module, fusion_inputs: dict,
                       owners: Sequence[int], ids: Tensor,
                       mask: Tensor) -> Tensor:
    """Shared queries of each (image, question) pair.

    Args:
        fusion (nn.Module): The :class:`SharedQueryFusion`.
        fusion_inputs (dict): The image-level fusion call's arguments (see
            ``PerceptionState.fusion_inputs``): batched tensors, tuples of
            per-level tensors and per-image lists are indexed by owner.
        owners (Sequence[int]): The image of each sequence.
        ids (Tensor): (S, T) instruction ids; ``mask`` (S, T) 1 = valid.

    Returns:
        Tensor: (S, Nq, C) queries.
    """
    index = torch.as_tensor(list(owners), device=ids.device)

    def pick(value):
        if isinstance(value, Tensor) and value.dim() > 0:
            return value.index_select(0, index.to(value.device))
        if isinstance(value, tuple) and value and isinstance(
                value[0], Tensor):
            return tuple(pick(v) for v in value)
        if isinstance(value, list):
            return [value[i] for i in owners]
        return value

    kwargs = {k: pick(v) for k, v in fusion_inputs.items()}
    return fusion(**kwargs, instruction_ids=ids, instruction_mask=mask)


def instructed_visual(tokenizer: InstructionTokenizer, fusion: nn.Module,
                      projection: nn.Module, fusion_inputs: dict,
                      samples: Sequence, visual: List[Tensor],
                      owners: Sequence[int]) -> List[Tensor]:
    """The LLM sequences' visual embeddings with each question's
    instruction-aware soft tokens in place of the image's."""
    ids, mask = tokenizer(sequence_questions(samples), visual[0].device)
    queries = instructed_queries(fusion, fusion_inputs, owners, ids, mask)
    return [
        torch.cat([q, v[q.shape[0]:]], dim=0)
        for q, v in zip(projection(queries), visual)
    ]
