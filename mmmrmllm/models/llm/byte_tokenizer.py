"""A byte-level tokenizer that needs no files (tiny models, CPU runs)."""
from transformers import PreTrainedTokenizerFast

from mmmrmllm.text import text_normalizer

BYTE_TOKENIZER = 'byte'


def build_byte_tokenizer() -> PreTrainedTokenizerFast:
    """256 byte tokens + ``<s>`` (BOS, added in front), ``</s>`` (EOS) and
    ``<pad>``: 259 ids, every text encodable, nothing to download. Text is
    normalised as by the project's other tokenizers
    (:func:`mmmrmllm.text.text_normalizer`: NFKC, lower case, runs of
    spaces as one).

    Returns:
        PreTrainedTokenizerFast: The tokenizer.
    """
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
    )
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    specials = ['<s>', '</s>', '<pad>']
    vocab = {t: i for i, t in enumerate(specials + alphabet)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.normalizer = text_normalizer()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(
        add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single='<s> $A', special_tokens=[('<s>', 0)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token='<s>',
        eos_token='</s>',
        pad_token='<pad>')
