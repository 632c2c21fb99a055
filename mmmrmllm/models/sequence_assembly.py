"""The LLM's input sequences: one per (image, question) pair.

Each sequence is the image's visual embeddings (projected shared queries,
then its box tokens) and the prompt the :class:`LLMHead` encodes around
them (its ``token_layout``: BOS and the template's text before
``<image>`` first, or, InstructBLIP's layout, the visual block first and
then BOS and the whole prompt): the perception prompt (detections as text)
and the question, plus the answer in training. Each encoded prompt keeps
its text (``EncodedPrompt.text``, after objects were dropped to fit the
context), the instruction InstructBLIP's Q-Former reads. Questions that do
not fit the LLM's context (``too_long='skip'``) are left out here and put
back as empty answers by :func:`per_image`, so answers stay aligned with
questions.
"""
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmmrmllm.structures import answers_of, questions_of, sample_name

from .llm import majority_answer


def assemble_sequences(
        soft_tokens: Tensor,
        samples: Sequence,
        llm: Any,
        training: bool,
        box_tokens: Optional[Sequence[Tensor]] = None,
        detections: Optional[Sequence] = None,
        prompt_generator: Optional[Any] = None,
        class_names: Optional[Sequence[str]] = None
) -> Tuple[List[Tensor], list, List[int]]:
    """Visual embeddings and encoded prompts of every (image, question)
    pair.

    Args:
        soft_tokens (Tensor): (B, Nq, D) projected shared queries.
        samples (Sequence): The batch's data samples; each gets metainfo
            ``prompt_objects_dropped`` and ``skipped_questions``.
        llm: The :class:`LLMHead` (``encode_image_prompts``).
        training (bool): Encode the majority answer as the target.
        box_tokens (Sequence[Tensor], optional): Per-image (K, D) box
            tokens appended to the visual embeddings.
        detections (Sequence, optional): Per-image normalised
            :class:`Detections` for the perception prompt.
        prompt_generator (optional): :class:`DetectionPromptGenerator`;
            None: no perception prompt.
        class_names (Sequence[str], optional): Names of the labels.

    Returns:
        tuple: ``visual`` (per sequence, (T, D)), ``prompts`` (encoded
        prompts), ``owners`` (the image index of each sequence).
    """
    visual, prompts, owners = [], [], []
    for i, s in enumerate(samples):
        qs = questions_of(s)
        if not qs:
            continue
        vis = soft_tokens[i]
        if box_tokens is not None:
            vis = torch.cat([vis, box_tokens[i]], dim=0)
        perception, n_obj = None, 0
        if prompt_generator is not None:
            perception, n_obj = _perception_text(prompt_generator,
                                                 detections[i], class_names,
                                                 training)
        answers = [majority_answer(a) for a in answers_of(s)] \
            if training else None
        enc, dropped = llm.encode_image_prompts(qs, answers, len(vis),
                                                perception, n_obj,
                                                sample_name(s, i))
        skipped = [j for j, e in enumerate(enc) if e is None]
        s.set_metainfo(
            dict(prompt_objects_dropped=dropped, skipped_questions=skipped))
        enc = [e for e in enc if e is not None]
        visual += [vis] * len(enc)
        prompts += enc
        owners += [i] * len(enc)
    return visual, prompts, owners


def _perception_text(generator: Any, detections: Any,
                     class_names: Optional[Sequence[str]],
                     training: bool) -> Tuple[Callable[[int], str], int]:
    """The image's selected objects as a renderer ``drop → text`` (the LLM
    head drops objects from the end when the prompt is too long) and their
    number."""
    objects = generator.select(detections.boxes, detections.labels,
                               detections.scores, training)

    def render(drop: int) -> str:
        return generator.render(objects, class_names, drop)

    return render, len(objects)


def per_image(owners: Sequence[int], values: Sequence, samples: Sequence,
              fill: Any = '') -> List[list]:
    """Per-sequence values regrouped per image, in question order.

    A question skipped as too long (``skipped_questions`` in the sample's
    metainfo) gets ``fill``.

    Args:
        owners (Sequence[int]): Image index of each sequence.
        values (Sequence): One value per sequence.
        samples (Sequence): The batch's data samples.
        fill: The value of a skipped question.
    """
    out = [[] for _ in samples]
    for i, v in zip(owners, values):
        out[i].append(v)
    for i, s in enumerate(samples):
        for j in s.metainfo.get('skipped_questions', ()):
            out[i].insert(j, fill)
    return out
