"""Tokenising the (image, question) sequences of :class:`LLMHead`: the
prompt around the visual tokens, fitted to the LLM's context."""
import logging
from collections import Counter
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from mmengine.logging import print_log

from mmmrmllm.text import IMAGE_TOKEN
from mmmrmllm.utils.errors import PromptTooLongError

TOKEN_LAYOUTS = ('template', 'visual_first')


class EncodedPrompt(NamedTuple):
    """Token ids of one (image, question) sequence around its visual tokens.

    Attributes:
        prefix (list[int]): Text before the visual tokens (with BOS);
            empty with ``token_layout='visual_first'``.
        suffix (list[int]): Text after them: perception text + question
            (with ``'visual_first'``: BOS + the whole prompt text).
        answer (list[int]): Answer + EOS (empty at inference).
        text (str): The prompt text the LLM reads, ``<image>`` removed
            (InstructBLIP's Q-Former instruction).
    """
    prefix: List[int]
    suffix: List[int]
    answer: List[int]
    text: str = ''

    def prompt_len(self, num_visual: int) -> int:
        return len(self.prefix) + num_visual + len(self.suffix)


def majority_answer(answers: Sequence[str]) -> str:
    """The most frequent reference answer (the first on ties)."""
    if isinstance(answers, str):
        return answers
    if not answers:
        raise ValueError('a question has no reference answer')
    counts = Counter(answers)
    return max(answers, key=lambda a: counts[a])


class PromptEncodingMixin:
    """Prompt tokenisation of :class:`LLMHead`.

    Reads the head's ``tokenizer``, ``prompt_template``, ``token_layout``,
    ``answer_prefix``, ``eos_token_id``, ``max_length`` and ``too_long``,
    and counts skipped questions in ``num_skipped_questions``.
    """

    def _encode(self, question: str, perception: str) -> EncodedPrompt:
        """One sequence's prompt (:meth:`_encode_all`)."""
        return self._encode_all([question], perception)[0]

    def _encode_all(self, questions: Sequence[str],
                    perception: str) -> List[EncodedPrompt]:
        """The prompts of questions sharing a perception text, laid out as
        ``token_layout`` says (one tokenizer call per piece for all of
        them: per-call overhead dominates short texts).

        ``'template'``: the text before ``<image>`` with the tokenizer's
        special tokens (BOS), the visual tokens, then the text after it.
        ``'visual_first'`` (BLIP-2 / InstructBLIP): the visual tokens, then
        the whole template text without ``<image>``, tokenised in one piece
        with the special tokens, as ``InstructBlipProcessor`` tokenises its
        text.
        """
        if not questions:
            return []
        template = self.prompt_template.split(IMAGE_TOKEN)
        pieces = [[t.format(question=q, perception=perception)
                   for t in template] for q in questions]
        texts = [before + after for before, after in pieces]
        tok = self.tokenizer
        if self.token_layout == 'visual_first':
            ids = tok(texts, add_special_tokens=True).input_ids
            return [EncodedPrompt([], i, [], t) for i, t in zip(ids, texts)]
        prefixes = tok([p[0] for p in pieces],
                       add_special_tokens=True).input_ids
        suffixes = tok([p[1] for p in pieces],
                       add_special_tokens=False).input_ids
        return [EncodedPrompt(p, s, [], t)
                for p, s, t in zip(prefixes, suffixes, texts)]

    def _answer_ids(self, answers: Optional[Sequence[str]],
                    num: int) -> List[List[int]]:
        """Per question: answer + EOS ids, or [] when there is none."""
        out = []
        for a in answers or [None] * num:
            ids = [] if a is None else self.tokenizer(
                self.answer_prefix + a, add_special_tokens=False).input_ids
            out.append(ids + [self.eos_token_id] if a is not None else [])
        return out

    def _fit_perception(self, questions: Sequence[str], need: List[int],
                        num_visual: int,
                        perception: Optional[Callable[[int], str]],
                        num_objects: int):
        """Drop the lowest-scoring objects one by one until the longest
        sequence fits (or no object is left).

        Returns:
            tuple[list[EncodedPrompt], int]: The prompts and the number of
            objects dropped.
        """
        drop = 0
        while True:
            text = perception(drop) if perception is not None else ''
            enc = self._encode_all(questions, text)
            fits = all(
                e.prompt_len(num_visual) + n <= self.max_length
                for e, n in zip(enc, need))
            if fits or perception is None or drop >= num_objects:
                return enc, drop
            drop += 1

    def _too_long(self, question: str, plen: int, num_visual: int,
                  name: str, training: bool) -> None:
        """A question whose prompt leaves no room: an error with
        ``too_long='error'``, else logged and counted."""
        alone = self._encode(question, '').prompt_len(num_visual)
        what = 'the answer would be fully truncated' if training \
            else 'no room is left to generate'
        msg = (f'sample {name}: the question needs {alone} tokens '
               f'with {num_visual} visual tokens and no perception '
               f'text, but the LLM context is {self.max_length}'
               if alone > self.max_length else
               f'sample {name}: {what} (prompt {plen} tokens, '
               f'context {self.max_length})')
        msg += f': {question[:80]!r}'
        if self.too_long == 'error':
            raise PromptTooLongError(msg + " (too_long='error')")
        self.num_skipped_questions += 1
        print_log(
            f'{msg}; question skipped ({self.num_skipped_questions} '
            "so far; too_long='skip')",
            logger='current',
            level=logging.WARNING)

    def encode_image_prompts(
            self,
            questions: Sequence[str],
            answers: Optional[Sequence[str]],
            num_visual: int,
            perception: Optional[Callable[[int], str]] = None,
            num_objects: int = 0,
            name: str = '?') -> Tuple[List[Optional[EncodedPrompt]], int]:
        """Tokenise every question of one image, fitting the context.

        The perception text is shared by the image's questions. If the
        longest sequence would not fit, the lowest-scoring objects are
        dropped one by one. Then, if a prompt still leaves no room (for one
        answer or generated token), the question is too long: with
        ``too_long='skip'`` its entry is None (logged and counted in
        :attr:`num_skipped_questions`), otherwise an error. An answer that
        does not fit is truncated.

        Args:
            questions (Sequence[str]): The image's questions.
            answers (Sequence[str], optional): One answer per question
                (training) or None (inference).
            num_visual (int): Visual + perception tokens per sequence.
            perception (Callable[[int], str], optional): ``num_drop`` → text.
            num_objects (int): Objects in the full perception text.
            name (str): Sample name for error messages.

        Returns:
            tuple[list[EncodedPrompt | None], int]: One sequence per
            question (None: skipped, too long) and the number of objects
            dropped to fit.
        """
        ans_ids = self._answer_ids(answers, len(questions))
        need = [max(1, len(a)) for a in ans_ids]
        enc, drop = self._fit_perception(questions, need, num_visual,
                                         perception, num_objects)
        out = []
        for q, e, a in zip(questions, enc, ans_ids):
            plen = e.prompt_len(num_visual)
            if plen >= self.max_length:
                self._too_long(q, plen, num_visual, name, answers is not None)
                out.append(None)
                continue
            room = self.max_length - plen
            out.append(e._replace(answer=a[:room]))
        return out, drop

    def describe_prompt(self, prompt: EncodedPrompt, num_visual: int) -> str:
        """A sequence as text, its visual (soft + box) tokens marked: what
        the LLM received."""
        dec = self.tokenizer.decode
        return (dec(prompt.prefix, skip_special_tokens=True) +
                f'<{num_visual} visual tokens>' +
                dec(prompt.suffix, skip_special_tokens=True))


_MARKS = {IMAGE_TOKEN: '\x00I\x00', '{perception}': '\x00P\x00',
          '{question}': '\x00Q\x00'}


def chat_prompt_template(tokenizer, content: str, source: str) -> str:
    """A ``prompt_template`` rendered from the tokenizer's chat template.

    ``content`` (the user turn, with ``<image>``, ``{perception}`` and
    ``{question}``) goes through ``apply_chat_template`` with the
    generation prompt; the rendered text's literal braces are doubled for
    ``str.format``, and a leading BOS text is dropped when the tokenizer
    adds BOS itself (else it would be there twice).

    Args:
        tokenizer: A Hugging Face tokenizer with a ``chat_template``.
        content (str): The user message template.
        source (str): Where the tokenizer came from, for errors.

    Returns:
        str: The prompt template.
    """
    if not getattr(tokenizer, 'chat_template', None):
        raise ValueError(f'chat_template=True, but the tokenizer ({source}) '
                         'has no chat template')
    message = content.replace('{{', '{').replace('}}', '}')
    for field, mark in _MARKS.items():
        message = message.replace(field, mark)
    text = tokenizer.apply_chat_template(
        [dict(role='user', content=message)],
        tokenize=False,
        add_generation_prompt=True)
    bos = tokenizer.bos_token
    if bos and text.startswith(bos):
        ids = tokenizer('x', add_special_tokens=True).input_ids
        if ids and ids[0] == tokenizer.bos_token_id:
            text = text[len(bos):]
    text = text.replace('{', '{{').replace('}', '}}')
    for field, mark in _MARKS.items():
        text = text.replace(mark, field)
    if text.count(IMAGE_TOKEN) != 1 or '{question}' not in text:
        raise ValueError(
            f"the tokenizer's chat template ({source}) does not keep the "
            f'user turn {content!r} (rendered: {text!r})')
    return text
