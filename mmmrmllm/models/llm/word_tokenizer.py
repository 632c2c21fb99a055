"""A word-level tokenizer built from a corpus (for LLMs trained from
scratch on a small closed vocabulary, e.g. CornerShapes)."""
import re
from typing import Iterable, Optional

from transformers import PreTrainedTokenizerFast

SPECIALS = ('<s>', '</s>', '<pad>', '<unk>')
# Words of the default prompt templates (PerceptionPromptGenerator,
# LLMHead), so that prompts never fall back to <unk>.
PROMPT_WORDS = ('question', 'answer', 'detected', 'objects', 'object',
                'counts', 'no', 'top', 'bottom', 'left', 'right', 'middle',
                'centre', 'in', 'one', 'word')
PUNCTUATION = ':,.;?!()[]-\'"'
_WORD = re.compile(r'\w+|[^\w\s]')


def words_of(text: str) -> list:
    """Lower-cased words, single digits and punctuation marks of ``text``."""
    out = []
    for token in _WORD.findall(text.lower()):
        out.extend(token if token.isdigit() else [token])
    return out


def build_word_tokenizer(texts: Iterable[str],
                         out_dir: Optional[str] = None
                         ) -> PreTrainedTokenizerFast:
    """Word-level tokenizer over every word of ``texts`` plus the digits,
    the prompt-template words and ``<s> </s> <pad> <unk>``.

    Numbers are split into digits, so any number (counts, coordinates)
    encodes without ``<unk>``. Text is lower-cased.

    Args:
        texts (Iterable[str]): The corpus (questions, answers, class names).
        out_dir (str, optional): Save the tokenizer here
            (``save_pretrained``), loadable with ``AutoTokenizer``.

    Returns:
        PreTrainedTokenizerFast: ``<s>`` is added in front of each text.
    """
    from tokenizers import (
        Tokenizer,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    words = set(PROMPT_WORDS) | set('0123456789') | set(PUNCTUATION)
    for text in texts:
        words.update(words_of(text))
    vocab = {t: i for i, t in enumerate(list(SPECIALS) + sorted(words))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token='<unk>'))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Whitespace(),
        pre_tokenizers.Digits(individual_digits=True)
    ])
    tok.post_processor = processors.TemplateProcessing(
        single='<s> $A', special_tokens=[('<s>', 0)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token='<s>',
        eos_token='</s>',
        pad_token='<pad>',
        unk_token='<unk>')
    if out_dir is not None:
        tokenizer.save_pretrained(out_dir)
    return tokenizer
