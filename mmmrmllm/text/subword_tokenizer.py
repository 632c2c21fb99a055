"""A subword (BPE) tokenizer trained with Hugging Face ``tokenizers``, for
LLMs pre-trained by the project on a small corpus (e.g. CornerShapes text).

The result is a standard ``PreTrainedTokenizerFast`` directory
(``tokenizer.json`` + configs), loadable with ``AutoTokenizer`` like any
hub tokenizer.
"""
import string
from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

SPECIALS = ('<s>', '</s>', '<pad>', '<unk>')


def train_subword_tokenizer(texts: Iterable[str],
                            vocab_size: int = 256,
                            out_dir: Optional[str] = None,
                            min_frequency: int = 2
                            ) -> 'PreTrainedTokenizerFast':
    """Train a SentencePiece-style BPE tokenizer on ``texts``.

    Words are split at spaces (``▁`` marks a word start, so decoding
    restores the spaces) and punctuation; a plural ``s`` after a stem of
    three or more letters is its own piece, so ``circles`` is ``▁circle`` +
    ``s`` and shares the stem's token (a frequency-only BPE would merge
    frequent plurals into unrelated tokens). The alphabet holds every
    printable ASCII character, so text outside the corpus still encodes
    without ``<unk>``.

    Args:
        texts (Iterable[str]): The corpus.
        vocab_size (int): Total vocabulary, specials and alphabet included.
        out_dir (str, optional): ``save_pretrained`` here.
        min_frequency (int): Least count of a merged pair.

    Returns:
        PreTrainedTokenizerFast: Adds ``<s>`` in front of each text; EOS is
        ``</s>``, pad ``<pad>``.
    """
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast
    PLURAL_S = Regex(r'(?<=[a-z]{3})s(?=$|[^a-zA-Z])')
    tok = Tokenizer(models.BPE(unk_token='<unk>'))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(),
        pre_tokenizers.Split(PLURAL_S, behavior='isolated'),
        pre_tokenizers.Punctuation(),
    ])
    tok.decoder = decoders.Metaspace()
    alphabet = [c for c in string.printable
                if not c.isspace()] + ['▁', '\n', '\t']
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIALS),
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    bos = tok.token_to_id('<s>')
    tok.post_processor = processors.TemplateProcessing(
        single='<s> $A', special_tokens=[('<s>', bos)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token='<s>',
        eos_token='</s>',
        pad_token='<pad>',
        unk_token='<unk>')
    if out_dir is not None:
        tokenizer.save_pretrained(out_dir)
    return tokenizer
