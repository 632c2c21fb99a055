"""The benchmark's tokenizer: a subword (BPE) tokenizer trained on its
text, for the LLM pre-trained on it (the language stage)."""
import os.path as osp
from typing import Dict, List, Sequence

from mmmrmllm.text import DetectionPromptGenerator, train_subword_tokenizer

from .questions import QUADRANTS
from .render import ALL_COLOURS, SHAPES
from .text import TEXT_PROMPT, CornerShapesText

# vocabulary of the tokenizer in tokenizer/ (specials and alphabet included)
TOKENIZER_VOCAB = 256
# one token each: the prompt's positions and every word answer (counts are
# digits, one character each), so that an answer is one generated step -
# but 'cross', which the tokenizer's plural rule splits like a plural
# ('cros' + 's', as 'circle' + 's')
WHOLE_WORDS = QUADRANTS + tuple(s for s in SHAPES if s != 'cross') + tuple(
    ALL_COLOURS) + ('yes', 'no', 'left', 'right')


def tokenizer_corpus(classes: Sequence[str],
                     question_records: Dict[str, list],
                     num_scenes: int = 2000) -> List[str]:
    """Every question and answer, class, colour and position name, and
    whole sequences of generated scenes as the main job's LLM reads them
    (perception prompt, question and answer).

    Args:
        classes (Sequence[str]): Shape classes.
        question_records (dict[str, list]): Split → its question records.
            ``det_train`` is left out: it asks the same templates, and
            leaving it out keeps the tokenizer independent of the detection
            split's size.
        num_scenes (int): Generated text-only scenes.

    Returns:
        list[str]: The corpus.
    """
    texts = list(classes) + list(ALL_COLOURS) + list(QUADRANTS)
    for split, records in question_records.items():
        if split == 'det_train':
            continue
        for rec in records:
            for q in rec.get('questions', []):
                texts.append(q['question'])
                texts.extend(q.get('answers', []))
    prompts = CornerShapesText(
        DetectionPromptGenerator(**TEXT_PROMPT), classes, seed=1)
    return texts + prompts.texts(num_scenes)


def write_tokenizer(out_dir: str, classes: Sequence[str],
                    question_records: Dict[str, list]) -> None:
    """Train the tokenizer on :func:`tokenizer_corpus` and save it in
    ``out_dir/tokenizer``. Each of :data:`WHOLE_WORDS` - the quadrant
    names (``top-left``, ...) and the word answers - is one token, in the
    prompt, the questions and the answers alike.

    Args:
        out_dir (str): The benchmark's folder.
        classes (Sequence[str]): Shape classes.
        question_records (dict[str, list]): Split → its question records.
    """
    train_subword_tokenizer(
        tokenizer_corpus(classes, question_records),
        vocab_size=TOKENIZER_VOCAB,
        out_dir=osp.join(out_dir, 'tokenizer'),
        whole_words=WHOLE_WORDS)
