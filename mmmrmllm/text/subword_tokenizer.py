"""A subword (BPE) tokenizer trained with Hugging Face ``tokenizers``, for
LLMs pre-trained by the project on a small corpus (e.g. CornerShapes text).

The result is a standard ``PreTrainedTokenizerFast`` directory
(``tokenizer.json`` + configs), loadable with ``AutoTokenizer`` like any
hub tokenizer. Its normalizer (:func:`text_normalizer`) removes what does
not change a question's meaning - Unicode forms, case, runs of spaces - so
``how many circles  are there?`` reads as ``How many circles are there?``.
"""
import json
import string
from collections import Counter
from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Normalizer
    from tokenizers.pre_tokenizers import PreTokenizer
    from transformers import PreTrainedTokenizerFast

SPECIALS = ('<s>', '</s>', '<pad>', '<unk>')
# a plural 's' after a stem of three or more letters
PLURAL_S = r'(?<=[a-z]{3})s(?=$|[^a-zA-Z])'
# punctuation, each mark its own piece (what ``pre_tokenizers.Punctuation``
# splits: ASCII punctuation and Unicode P*), except a hyphen between two
# letters: ``top-left`` stays one word
PUNCTUATION = (r'(?<![A-Za-z])-|-(?![A-Za-z])'
               r'|[[\p{P}!-,./:-@\[-`{-~]&&[^-]]')
# the word-start marker of the Metaspace pre-tokenizer
WORD_START = '▁'
# a run of white space within a line (line breaks stay: prompts use them)
SPACE_RUN = r'[^\S\n]+'


def text_normalizer() -> 'Normalizer':
    """The normalizer of the project's tokenizers: Unicode NFKC, lower
    case, each run of white space within a line one space (line breaks
    stay: prompts are laid out with them).

    Users type questions in any case, with extra spaces; none of it
    changes the meaning, so none of it reaches the model (as an uncased
    BERT tokenizer lower-cases). A question sits inside the prompt
    template (``Question: {question} Answer:``), so its leading and
    trailing spaces are runs too; a text's own end spaces are kept, as the
    template's pieces around the visual tokens are tokenised apart.
    Decoding gives the normalised text.

    Returns:
        tokenizers.normalizers.Normalizer: The normalizer.
    """
    from tokenizers import Regex, normalizers
    return normalizers.Sequence([
        normalizers.NFKC(),
        normalizers.Lowercase(),
        normalizers.Replace(Regex(SPACE_RUN), ' '),
    ])


def _alphabet() -> List[str]:
    """Every printable ASCII character the normalizer lets through (no
    capitals, no white space but the line break) and the word start."""
    return [c for c in string.printable
            if not c.isspace() and not c.isupper()] + [WORD_START, '\n']


def _pre_tokenizer() -> 'PreTokenizer':
    """Words at spaces (``▁`` marks a word start), a plural ``s`` and
    each punctuation mark apart."""
    from tokenizers import Regex, pre_tokenizers
    return pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(),
        pre_tokenizers.Split(Regex(PLURAL_S), behavior='isolated'),
        pre_tokenizers.Split(Regex(PUNCTUATION), behavior='isolated'),
    ])


def _train_bpe(texts: Sequence[str], vocab_size: int,
               min_frequency: int) -> 'Tokenizer':
    from tokenizers import Tokenizer, decoders, models, trainers
    tok = Tokenizer(models.BPE(unk_token='<unk>'))
    tok.normalizer = text_normalizer()
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.Metaspace()
    alphabet = _alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=max(vocab_size, len(SPECIALS) + len(alphabet)),
        min_frequency=min_frequency,
        special_tokens=list(SPECIALS),
        initial_alphabet=alphabet,
        limit_alphabet=len(alphabet),
        show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _merge(pieces: List[str], pair: Tuple[str, str]) -> List[str]:
    out: List[str] = []
    for p in pieces:
        if out and (out[-1], p) == pair:
            out[-1] += p
        else:
            out.append(p)
    return out


def _missing_merges(tok: 'Tokenizer',
                    words: Sequence[str]) -> List[Tuple[str, str]]:
    """The merges that make each of ``words`` (pre-tokens, e.g.
    ``'▁top-left'``) one token after the trained merges: BPE continued on
    the words alone (the most frequent pair of their pieces first, so
    ``top-left`` and ``bottom-left`` share ``left``)."""
    seqs = [[t.value for t in tok.model.tokenize(w)] for w in words]
    merges: List[Tuple[str, str]] = []
    while any(len(s) > 1 for s in seqs):
        counts = Counter(pair for s in seqs for pair in zip(s, s[1:]))
        pair = max(counts, key=counts.__getitem__)
        merges.append(pair)
        seqs = [_merge(s, pair) for s in seqs]
    return merges


def _new_tokens(tok: 'Tokenizer', merges: Sequence[Tuple[str, str]]) -> int:
    """How many tokens ``merges`` add (a merge may make a known token)."""
    return len({a + b for a, b in merges} - set(tok.get_vocab()))


def _append_merges(tok: 'Tokenizer',
                   merges: Sequence[Tuple[str, str]]) -> 'Tokenizer':
    """``tok`` with ``merges`` after its trained merges (ranked last, so
    they only join what the trained merges leave apart)."""
    from tokenizers import Tokenizer
    state = json.loads(tok.to_str())
    vocab = state['model']['vocab']
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    # stored as pairs ('a b' strings before tokenizers 0.20)
    old = state['model']['merges']
    pairs = [list(m) for m in merges]
    state['model']['merges'] = old + (
        [' '.join(p) for p in pairs]
        if old and isinstance(old[0], str) else pairs)
    return Tokenizer.from_str(json.dumps(state))


def _word_starts(whole_words: Sequence[str]) -> List[str]:
    """Each whole word once, as the pre-tokenizer gives it (``▁`` +
    word), or an error naming the words that cannot be one token."""
    norm = text_normalizer()
    for w in whole_words:
        if not w or any(c.isspace() for c in w):
            raise ValueError(f'whole_words must be single words, got {w!r}')
        if norm.normalize_str(w) != w:
            raise ValueError(
                f'whole_words must be normalised (lower case, NFKC): {w!r} '
                f'reads as {norm.normalize_str(w)!r}')
    words = [WORD_START + w for w in dict.fromkeys(whole_words)]
    pre = _pre_tokenizer()
    split = [w[1:] for w in words if len(pre.pre_tokenize_str(w)) != 1]
    if split:
        raise ValueError(f'whole_words {split} are split by the '
                         'pre-tokenizer (punctuation, a plural s): they '
                         'cannot be one token')
    return words


def train_subword_tokenizer(texts: Iterable[str],
                            vocab_size: int = 256,
                            out_dir: Optional[str] = None,
                            min_frequency: int = 2,
                            whole_words: Sequence[str] = ()
                            ) -> 'PreTrainedTokenizerFast':
    """Train a SentencePiece-style BPE tokenizer on ``texts``.

    Words are split at spaces (``▁`` marks a word start, so decoding
    restores the spaces) and punctuation - a hyphen between letters is
    part of the word (``top-left``); a plural ``s`` after a stem of three
    or more letters is its own piece, so ``circles`` is ``▁circle`` + ``s``
    and shares the stem's token (a frequency-only BPE would merge frequent
    plurals into unrelated tokens). Text is normalised first
    (:func:`text_normalizer`: NFKC, lower case, runs of spaces as one), so
    decoding gives lower-case text. The alphabet holds every printable
    ASCII character that normalisation leaves, so text outside the corpus
    still encodes without ``<unk>``.

    Args:
        texts (Iterable[str]): The corpus.
        vocab_size (int): Total vocabulary, specials and alphabet included.
        out_dir (str, optional): ``save_pretrained`` here.
        min_frequency (int): Least count of a merged pair.
        whole_words (Sequence[str]): Words that must be one token each,
            e.g. answers that the LLM must produce in one step. A word is
            one token after a space or at the start of a text (``▁`` +
            word; the pre-tokenizer gives no other form to a word there),
            written as the normalizer leaves them (lower case).
            Those the trained merges leave in pieces get merges of their
            own, ranked after the trained ones, and the training leaves
            room for them within ``vocab_size``.

    Returns:
        PreTrainedTokenizerFast: Adds ``<s>`` in front of each text; EOS is
        ``</s>``, pad ``<pad>``.
    """
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast
    texts = list(texts)
    words = _word_starts(whole_words)
    # train with fewer merges until the whole words' own merges fit
    base = len(SPECIALS) + len(_alphabet())
    reserve = 0
    while True:
        tok = _train_bpe(texts, vocab_size - reserve, min_frequency)
        merges = _missing_merges(tok, words)
        over = tok.get_vocab_size() + _new_tokens(tok, merges) - vocab_size
        if over <= 0:
            break
        if tok.get_vocab_size() <= base:
            raise ValueError(
                f'vocab_size {vocab_size} leaves no room to keep '
                f'{len(words)} whole words whole')
        reserve += over
    if merges:
        tok = _append_merges(tok, merges)
    for word in words:
        pieces = [t.value for t in tok.model.tokenize(word)]
        if len(pieces) != 1:
            raise RuntimeError(f'{word[1:]!r} is not one token: {pieces}')
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
