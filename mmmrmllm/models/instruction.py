"""Instruction-aware shared queries (InstructBLIP's Q-Former).

With ``MRMLLM(use_instruction_in_fusion=True)`` an instruction's tokens
join the fusion's self-attention, so the soft tokens the LLM reads are
computed for each (image, question) pair. The instruction is, as in
InstructBLIP (``InstructBlipProcessor`` sends its ``text`` to both
tokenizers), the whole prompt text the LLM reads (``instruction_text=
'prompt'``: template, perception text and question, ``<image>`` removed),
the template with the question alone (``'template'``: the prompt
without the perception text, which is what the processor gives both when
there are no detections, so an MLLM pre-trained without a detector keeps
its Q-Former's input in the joint stage), or the bare question
(``'question'``). The detector's feedback keeps the
image's instruction-free queries (one per image, before any question is
known), so detection does not depend on the questions asked.
"""
import os.path as osp
import warnings
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmmrmllm.structures import questions_of
from mmmrmllm.text import IMAGE_TOKEN

INSTRUCTION_TEXTS = ('prompt', 'template', 'question')
# moved to :mod:`mmmrmllm.models.mllm_directory` (the directory decides the
# defaults); kept here, with a warning, for one release
_MOVED = ('resolve_instruction', 'load_instruction_tokenizer',
          'pretrained_model_type')


class InstructionTokenizer:
    """Instruction texts → fusion instruction ids, padded and truncated to
    the fusion's position table.

    Each text is tokenised as ``InstructBlipProcessor`` tokenises the
    Q-Former's text (the tokenizer's special tokens, e.g. BERT's ``[CLS]``
    ... ``[SEP]``; no token type ids). The processor itself does not
    truncate unless asked, and a text longer than the Q-Former's position
    table (``fusion.max_position_embeddings``, 512 in InstructBLIP) would
    overrun it; here such a text is truncated to the table as
    ``processor(..., truncation=True, max_length=<table>)`` would: on the
    tokenizer's own ``truncation_side`` (``'left'`` for InstructBLIP's
    ``qformer_tokenizer``, so the end of the prompt, the question, is
    kept), special tokens kept. Texts that fit are untouched. (LAVIS, the
    original code, truncates its Q-Former text to ``max_txt_len=128``
    tokens the same way.)

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

    def __call__(self, texts: Sequence[str],
                 device: torch.device) -> Tuple[Tensor, Tensor]:
        """Padded ids and mask (1 = valid), each (len(texts), T)."""
        # one call for all texts: per-call overhead dominates short texts
        rows = self.tokenizer(list(texts), truncation=True,
                              max_length=self.max_length)['input_ids']
        width = max(1, max(len(r) for r in rows))
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.as_tensor(r, dtype=torch.long)
            mask[i, :len(r)] = 1
        return ids.to(device), mask.to(device)


def instruction_texts(which: str, prompts: Sequence, samples: Sequence,
                      template: str = '') -> List[str]:
    """The fusion instruction of each LLM sequence, in sequence order.

    Args:
        which (str): ``'prompt'``: the prompt text the LLM reads
            (``EncodedPrompt.text``, after objects were dropped to fit the
            context), as InstructBLIP's processor sends its text to the
            Q-Former; ``'template'``: ``template`` filled with the question
            and no perception text; ``'question'``: the bare question.
        prompts (Sequence[EncodedPrompt]): The sequences' prompts.
        samples (Sequence): The batch's data samples.
        template (str): The LLM's prompt template (``'template'`` only).
    """
    if which == 'prompt':
        return [p.text for p in prompts]
    questions = sequence_questions(samples)
    if which == 'template':
        text = template.replace(IMAGE_TOKEN, '')
        return [text.format(perception='', question=q) for q in questions]
    return questions


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
            ``PerceptionState.fusion_inputs``), one row per image.
        owners (Sequence[int]): The image of each sequence.
        ids (Tensor): (S, T) instruction ids; ``mask`` (S, T) 1 = valid.

    Returns:
        Tensor: (S, Nq, C) queries.
    """
    # the memory depends on the image alone: computed once per image, its
    # rows are then picked per question
    memory, perception = fusion.memory(**fusion_inputs)
    index = torch.as_tensor(list(owners), device=memory.device)
    memory = memory.index_select(0, index)
    if perception is not None:
        perception = tuple(t.index_select(0, index) for t in perception)
    return fusion.query(memory, perception, ids, mask)


def instructed_visual(tokenizer: InstructionTokenizer, fusion: nn.Module,
                      projection: nn.Module, fusion_inputs: dict,
                      texts: Sequence[str], visual: List[Tensor],
                      owners: Sequence[int]) -> List[Tensor]:
    """The LLM sequences' visual embeddings with each sequence's
    instruction-aware soft tokens in place of the image's.

    Args:
        texts (Sequence[str]): Each sequence's instruction
            (:func:`instruction_texts`).
    """
    ids, mask = tokenizer(texts, visual[0].device)
    queries = instructed_queries(fusion, fusion_inputs, owners, ids, mask)
    return [
        torch.cat([q, v[q.shape[0]:]], dim=0)
        for q, v in zip(projection(queries), visual)
    ]


def __getattr__(name: str):
    if name not in _MOVED:
        raise AttributeError(
            f'module {__name__!r} has no attribute {name!r}')
    warnings.warn(
        f'mmmrmllm.models.instruction.{name} is deprecated; use '
        f'mmmrmllm.models.mllm_directory (MLLMDirectory)',
        DeprecationWarning, stacklevel=2)
    if name == 'pretrained_model_type':
        return _pretrained_model_type
    from . import mllm_directory
    return getattr(mllm_directory, name)


def _pretrained_model_type(path):
    """Deprecated: the normalised ``model_type`` of a directory's
    ``config.json`` (``'instructblip'``, ``'blip_2'``); None without one
    (see :class:`~mmmrmllm.models.mllm_directory.MLLMDirectory`)."""
    from .mllm_directory import MLLMDirectory
    if not path or not osp.isfile(osp.join(path, 'config.json')):
        return None
    return MLLMDirectory(path).model_type
