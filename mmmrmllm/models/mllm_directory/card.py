"""The model card (``README.md``) of an exported InstructBLIP directory:
how to call it with ``transformers`` alone so that it reads its input as
it was trained to; written by :func:`model_card`, read back by
:func:`card_call`."""
import ast
import os.path as osp
import re
from typing import Optional

from torch import nn

from mmmrmllm.text import IMAGE_TOKEN

_MARK = '\x00Q\x00'
# the question of the card's example (a CornerShapes question; any works)
EXAMPLE_QUESTION = 'what colour is the circle?'


def processor_text(model: nn.Module) -> str:
    """The text to give ``InstructBlipProcessor`` for one question: the
    LLM's prompt template without ``<image>`` and without perception text,
    ``{question}`` left in (literal braces doubled, for ``str.format``).

    Args:
        model (MRMLLM): With an :class:`LLMHead`.
    """
    text = model.llm.prompt_template.replace(IMAGE_TOKEN, '').format(
        perception='', question=_MARK)
    return text.replace('{', '{{').replace('}', '}}').replace(
        _MARK, '{question}')


def qformer_reads(model: nn.Module) -> str:
    """What the model's Q-Former was given: ``'text'`` (the text the LLM
    reads, what the processor gives it), ``'question'`` (the bare
    question) or ``'nothing'`` (no instruction)."""
    if getattr(model, 'instruction_tokenizer', None) is None:
        return 'nothing'
    which = getattr(model, 'instruction_text', 'question')
    return 'question' if which == 'question' else 'text'


def _snippet(prompt: str, reads: str, max_new_tokens: int) -> str:
    lines = [
        'import torch',
        'from PIL import Image',
        'from transformers import (InstructBlipForConditionalGeneration,',
        '                          InstructBlipProcessor)',
        '',
        "model_dir = '.'  # this directory",
        'processor = InstructBlipProcessor.from_pretrained(model_dir)',
        'model = InstructBlipForConditionalGeneration.from_pretrained(',
        '    model_dir).eval()',
        '',
        "image = Image.open('image.png').convert('RGB')",
        f'question = {EXAMPLE_QUESTION!r}',
        f'text = {prompt!r}.format(question=question)',
        "inputs = processor(images=image, text=text, return_tensors='pt')",
    ]
    if reads == 'question':
        lines += [
            '# this Q-Former was trained on the bare question',
            'q = processor.qformer_tokenizer(question, return_tensors='
            "'pt')",
            "inputs['qformer_input_ids'] = q['input_ids']",
            "inputs['qformer_attention_mask'] = q['attention_mask']",
        ]
    elif reads == 'nothing':
        lines += [
            '# this Q-Former was trained without instructions',
            "inputs['qformer_attention_mask'] = torch.zeros_like(",
            "    inputs['qformer_attention_mask'])",
        ]
    lines += [
        'with torch.no_grad():',
        f'    out = model.generate(**inputs, max_new_tokens={max_new_tokens},',
        '                         do_sample=False)',
        "new = out[:, inputs['input_ids'].shape[1]:]",
        'answer = processor.batch_decode(new, skip_special_tokens=True)[0]',
        'print(answer.strip())',
    ]
    return '\n'.join(lines)


def model_card(model: nn.Module, image_size: int,
               max_new_tokens: Optional[int] = None) -> str:
    """The ``README.md`` of an InstructBLIP directory saved from
    ``model``.

    Args:
        model (MRMLLM): The exported MLLM.
        image_size (int): The encoder's input side.
        max_new_tokens (int, optional): Answer length of the example;
            defaults to the LLM head's.

    Returns:
        str: Markdown.
    """
    llm = model.llm
    prompt = processor_text(model)
    reads = qformer_reads(model)
    new_tokens = max_new_tokens or llm.generation_cfg.get(
        'max_new_tokens', 20)
    example = prompt.format(question=EXAMPLE_QUESTION)
    qformer = dict(
        text='the same text (what `InstructBlipProcessor` gives it), so '
        'the standard call below is the input it was trained on',
        question='the bare question only: the processor would give it '
        'the whole text, so the snippet replaces the Q-Former ids',
        nothing='no text (its instruction was off): the snippet masks the '
        "processor's Q-Former text out")[reads]
    layout = (
        "the Q-Former's query outputs, then BOS and the text (the "
        'processor and `generate` build exactly this)'
        if llm.token_layout == 'visual_first' else
        'BOS, the query outputs, then the text: NOT the layout '
        'transformers builds (query outputs first), so its answers '
        'differ from the ones it was trained to give')
    return f"""# InstructBLIP (trained with mmmrmllm)

A standard Hugging Face InstructBLIP directory: vision tower, Q-Former
with {model.fusion.num_queries} query tokens, language projection and a
{llm.model.config.model_type} language model, with its processor (image
processor, the LLM's tokenizer, `qformer_tokenizer/`).
`InstructBlipForConditionalGeneration.from_pretrained` loads it, and so
does mmmrmllm (`model.pretrained_mllm = <this directory>`).

## Prompt format

Give the processor one text, the question in the format the model was
trained on:

    {example}

i.e. `{prompt!r}.format(question=question)`; a bare question is not the
trained format (the model would continue it instead of answering).

- The language model reads {layout}.
- The Q-Former reads {qformer}.
- Images: resized to {image_size} x {image_size} px and normalised by the
  processor.
- Answers: short (one or a few words), greedy decoding,
  `max_new_tokens={new_tokens}`.

## Use with transformers

Local files only; put an image at `image.png` and run from this
directory:

```python
{_snippet(prompt, reads, new_tokens)}
```
"""


def card_call(model_dir: str) -> dict:
    """The prompt format, Q-Former input and answer length the model card
    of ``model_dir`` shows (what :func:`model_card` wrote).

    Args:
        model_dir (str): An exported InstructBLIP directory.

    Returns:
        dict: ``prompt`` (a ``str.format`` string with ``{question}``),
        ``qformer`` (``'text'``, ``'question'`` or ``'nothing'``) and
        ``max_new_tokens``.

    Raises:
        FileNotFoundError: Without a README.md.
        ValueError: If its snippet has no prompt format.
    """
    path = osp.join(model_dir, 'README.md')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no model card (directories '
                                'exported by this version write one)')
    with open(path) as f:
        card = f.read()
    blocks = card.split('```python\n')
    code = blocks[1].split('```')[0] if len(blocks) > 1 else ''
    fmt = re.search(r"^text = ('.*')\.format\(question=question\)$", code,
                    re.M)
    tokens = re.search(r'max_new_tokens=(\d+)', code)
    if fmt is None or tokens is None:
        raise ValueError(f'{path}: its python snippet shows no prompt '
                         'format (text = ...format(question=question)) '
                         'or max_new_tokens')
    qformer = 'text'
    if 'qformer_tokenizer(question' in code:
        qformer = 'question'
    elif 'zeros_like' in code:
        qformer = 'nothing'
    return dict(prompt=ast.literal_eval(fmt.group(1)), qformer=qformer,
                max_new_tokens=int(tokens.group(1)))
