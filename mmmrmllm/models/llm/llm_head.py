"""LLMHead: a Hugging Face causal LM with its tokenizer."""
import logging
import os
from collections import Counter
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
import transformers
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from mmmrmllm.registry import MODELS
from mmmrmllm.utils.errors import PromptTooLongError

from .byte_tokenizer import BYTE_TOKENIZER, build_byte_tokenizer

IMAGE_TOKEN = '<image>'


class EncodedPrompt(NamedTuple):
    """Token ids of one (image, question) sequence around its visual tokens.

    Attributes:
        prefix (list[int]): Text before the visual tokens (with BOS).
        suffix (list[int]): Text after them: perception text + question.
        answer (list[int]): Answer + EOS (empty at inference).
    """
    prefix: List[int]
    suffix: List[int]
    answer: List[int]

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


ATTENTION_PROJECTIONS = ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'qkv_proj',
                         'query_key_value', 'c_attn', 'Wqkv', 'query',
                         'key', 'value')


def lora_targets(model: torch.nn.Module) -> Optional[List[str]]:
    """LoRA target modules for ``model``: peft's default for its model
    type, else the attention projections found among its linear layers
    (all linear layers but the output head when none has a known name).

    Returns:
        list[str] | None: Module names for ``LoraConfig``; None when peft
        has a default for this model type.
    """
    from peft.utils.constants import (
        TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS,
    )
    model_type = getattr(model.config, 'model_type', None)
    if model_type in DEFAULTS:
        return None
    linear = sorted({
        name.rsplit('.', 1)[-1]
        for name, mod in model.named_modules()
        if isinstance(mod, torch.nn.Linear)
    } - {'lm_head'})
    found = [n for n in ATTENTION_PROJECTIONS if n in linear]
    targets = found or linear
    if not targets:
        raise ValueError(f'cannot find linear layers for LoRA in the '
                         f'{model_type!r} model; set lora_cfg.target_modules')
    print_log(f'LoRA: peft has no default for model type {model_type!r}; '
              f'targeting {targets}', logger='current')
    return targets


def check_token_ids(config) -> None:
    """Refuse special-token ids outside the vocabulary of a config-built
    LLM (e.g. Phi-3's default ``pad_token_id=32000`` with a small vocab),
    naming the key, instead of an assertion deep inside the embedding."""
    vocab = getattr(config, 'vocab_size', None)
    if not isinstance(vocab, int):
        return
    for key in ('pad_token_id', 'bos_token_id', 'eos_token_id'):
        value = getattr(config, key, None)
        ids = value if isinstance(value, (list, tuple)) else [value]
        bad = [i for i in ids if isinstance(i, int) and not 0 <= i < vocab]
        if bad:
            raise ValueError(
                f'model_cfg.{key}={value} is outside the vocabulary '
                f'(vocab_size={vocab}) of the {config.model_type!r} model; '
                f'set model_cfg.{key} to an id below {vocab}')


@MODELS.register_module()
class LLMHead(BaseModule):
    """Any ``AutoModelForCausalLM`` (LLaMA/Vicuna, Qwen2/3, Mistral, GPT-2,
    SmolLM, ...) with its tokenizer, fed visual embeddings and text.

    A sequence is ``prefix | visual | suffix | answer``: the prompt template
    is split at ``<image>``; ``{perception}`` and ``{question}`` fill the
    suffix. The loss covers answer tokens only (everything else is -100).
    Generation is batched, left-padded, with the KV cache.

    Args:
        name_or_path (str, optional): Local ``from_pretrained`` directory.
        model_cfg (dict, optional): ``model_type`` + config kwargs for a
            randomly initialised model (tests), e.g. ``dict(model_type=
            'llama', hidden_size=64, ...)``.
        tokenizer (str, optional): Tokenizer directory; defaults to
            ``name_or_path``. ``'byte'``: a built-in byte-level tokenizer
            (259 ids, no files; for tiny models).
        gguf_file (str, optional): GGUF file name inside ``name_or_path``.
        train_mode (str): ``'frozen'``, ``'full'`` or ``'lora'``.
        lora_cfg (dict, optional): ``peft.LoraConfig`` kwargs.
        prompt_template (str): With one ``<image>`` and ``{question}``;
            ``{perception}`` optional.
        answer_prefix (str): Prepended to the answer text before tokenising.
        max_length (int, optional): Context length; defaults to the model's.
        torch_dtype (str, optional): e.g. ``'bfloat16'``.
        generation_cfg (dict, optional): Defaults for ``generate``.
        too_long (str): What to do with a question that does not fit the
            context even with every perception object dropped: ``'skip'``
            (default; the question is left out of the loss or answered
            with ``''``, counted in :attr:`num_skipped_questions` and
            logged with the sample's name) or ``'error'``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 name_or_path: Optional[str] = None,
                 model_cfg: Optional[dict] = None,
                 tokenizer: Optional[str] = None,
                 gguf_file: Optional[str] = None,
                 train_mode: str = 'frozen',
                 lora_cfg: Optional[dict] = None,
                 prompt_template: str = (
                     '<image>{perception}Question: {question} Answer:'),
                 answer_prefix: str = ' ',
                 max_length: Optional[int] = None,
                 torch_dtype: Optional[str] = None,
                 generation_cfg: Optional[dict] = None,
                 too_long: str = 'skip',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if too_long not in ('skip', 'error'):
            raise ValueError(f"too_long must be 'skip' or 'error', got "
                             f'{too_long!r}')
        self.too_long = too_long
        self.num_skipped_questions = 0
        if (name_or_path is None) == (model_cfg is None):
            raise ValueError('give exactly one of name_or_path and model_cfg')
        if train_mode not in ('frozen', 'full', 'lora'):
            raise ValueError(f'unknown train_mode {train_mode!r}')
        if prompt_template.count(IMAGE_TOKEN) != 1 or \
                '{question}' not in prompt_template:
            raise ValueError('prompt_template needs exactly one <image> and '
                             f'a {{question}} field: {prompt_template!r}')
        dtype = getattr(torch, torch_dtype) if torch_dtype else None
        tok_path = tokenizer or name_or_path
        for path, what in ((name_or_path, 'LLM weights'),
                           (tok_path, 'tokenizer')):
            if path not in (None, BYTE_TOKENIZER) and not os.path.isdir(path):
                raise FileNotFoundError(f'{what} directory {path!r} not found '
                                        '(LLMHead loads local directories '
                                        'only)')
        if tok_path is None:
            raise ValueError('a model built from model_cfg needs a tokenizer '
                             'directory')
        tok_kwargs = dict(gguf_file=gguf_file) if gguf_file and \
            tok_path == name_or_path else {}
        if tok_path == BYTE_TOKENIZER:
            self.tokenizer = build_byte_tokenizer()
        else:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                tok_path, **tok_kwargs)
        if model_cfg is not None:
            cfg = dict(model_cfg)
            config = transformers.AutoConfig.for_model(
                cfg.pop('model_type'), **cfg)
            check_token_ids(config)
            model = transformers.AutoModelForCausalLM.from_config(
                config, torch_dtype=dtype)
        else:
            kwargs = dict(torch_dtype=dtype)
            if gguf_file:
                kwargs['gguf_file'] = gguf_file
            model = transformers.AutoModelForCausalLM.from_pretrained(
                name_or_path, **kwargs)
        self.source = name_or_path
        vocab = model.get_input_embeddings().num_embeddings
        if len(self.tokenizer) > vocab:
            raise ValueError(
                f'tokenizer {tok_path!r} has {len(self.tokenizer)} tokens but '
                f'the LLM embeds only {vocab}: they do not belong together')
        tok = self.tokenizer
        self.eos_token_id = tok.eos_token_id
        if self.eos_token_id is None:
            raise ValueError(f'tokenizer {tok_path!r} has no EOS token')
        # Llama/GPT-2 tokenizers have no pad token; padding positions are
        # masked out anyway, so EOS serves.
        self.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None \
            else self.eos_token_id
        self.train_mode = train_mode
        if train_mode == 'lora':
            import peft
            lora = dict(r=8, lora_alpha=16, lora_dropout=0.05)
            lora.update(lora_cfg or {})
            if lora.get('target_modules') is None:
                lora['target_modules'] = lora_targets(model)
            model = peft.get_peft_model(
                model, peft.LoraConfig(task_type='CAUSAL_LM', **lora))
        self.model = model
        if train_mode == 'frozen':
            self.model.requires_grad_(False)
            self.model.eval()
        self.prompt_template = prompt_template
        self.answer_prefix = answer_prefix
        cfg = model.config
        ctx = getattr(cfg, 'max_position_embeddings', None) or getattr(
            cfg, 'n_positions', None)
        self.max_length = max_length or ctx
        if self.max_length is None:
            raise ValueError('cannot tell the LLM context length; set '
                             'max_length')
        self.generation_cfg = dict(max_new_tokens=20, do_sample=False)
        self.generation_cfg.update(generation_cfg or {})

    @property
    def frozen(self) -> bool:
        return self.train_mode == 'frozen'

    @property
    def hidden_size(self) -> int:
        return self.model.get_input_embeddings().embedding_dim

    def init_weights(self) -> None:
        """Keep the weights of construction time: a ``Runner`` calls
        ``init_weights``, and HF's would re-initialise a model."""

    def train(self, mode: bool = True):
        super().train(mode and not self.frozen)
        return self

    def embed_ids(self, ids: Tensor) -> Tensor:
        """Token embeddings of ``ids`` (...,) → (..., H)."""
        return self.model.get_input_embeddings()(ids)

    def embed_texts(self, texts: Sequence[str]) -> Tensor:
        """Mean token embedding per text (e.g. class names).

        Args:
            texts (Sequence[str]): N texts.

        Returns:
            Tensor: (N, H).
        """
        emb = self.model.get_input_embeddings()
        out = []
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            for text in texts:
                ids = self.tokenizer(
                    text, add_special_tokens=False).input_ids or \
                    [self.eos_token_id]
                out.append(
                    emb(torch.tensor(ids, device=emb.weight.device)).mean(0))
        return torch.stack(out)

    def _encode(self, question: str, perception: str) -> EncodedPrompt:
        before, after = self.prompt_template.split(IMAGE_TOKEN)
        fields = dict(question=question, perception=perception)
        tok = self.tokenizer
        prefix = tok(before.format(**fields),
                     add_special_tokens=True).input_ids
        suffix = tok(after.format(**fields), add_special_tokens=False)
        return EncodedPrompt(prefix, suffix.input_ids, [])

    def encode_image_prompts(
            self,
            questions: Sequence[str],
            answers: Optional[Sequence[str]],
            num_visual: int,
            perception: Optional[Callable[[int], str]] = None,
            num_objects: int = 0,
            name: str = '?') -> (List[EncodedPrompt], int):
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
        ans_ids = []
        for a in answers or [None] * len(questions):
            ids = [] if a is None else self.tokenizer(
                self.answer_prefix + a, add_special_tokens=False).input_ids
            ans_ids.append(ids + [self.eos_token_id] if a is not None else [])
        need = [max(1, len(a)) for a in ans_ids]
        drop = 0
        while True:
            text = perception(drop) if perception is not None else ''
            enc = [self._encode(q, text) for q in questions]
            fits = all(
                e.prompt_len(num_visual) + n <= self.max_length
                for e, n in zip(enc, need))
            if fits or perception is None or drop >= num_objects:
                break
            drop += 1
        out = []
        for q, e, a in zip(questions, enc, ans_ids):
            plen = e.prompt_len(num_visual)
            if plen >= self.max_length:
                alone = self._encode(q, '').prompt_len(num_visual)
                what = 'the answer would be fully truncated' if answers \
                    is not None else 'no room is left to generate'
                msg = (f'sample {name}: the question needs {alone} tokens '
                       f'with {num_visual} visual tokens and no perception '
                       f'text, but the LLM context is {self.max_length}'
                       if alone > self.max_length else
                       f'sample {name}: {what} (prompt {plen} tokens, '
                       f'context {self.max_length})')
                msg += f': {q[:80]!r}'
                if self.too_long == 'error':
                    raise PromptTooLongError(msg + " (too_long='error')")
                self.num_skipped_questions += 1
                print_log(
                    f'{msg}; question skipped ({self.num_skipped_questions} '
                    "so far; too_long='skip')",
                    logger='current',
                    level=logging.WARNING)
                out.append(None)
                continue
            room = self.max_length - plen
            out.append(EncodedPrompt(e.prefix, e.suffix, a[:room]))
        return out, drop

    def _assemble(self, visual: Sequence[Tensor],
                  prompts: Sequence[EncodedPrompt], left_pad: bool,
                  text_labels: bool = False):
        emb = self.model.get_input_embeddings()
        dev = emb.weight.device
        seqs, labels = [], []
        for v, p in zip(visual, prompts):
            ids = torch.tensor(p.prefix + p.suffix + p.answer,
                               dtype=torch.long, device=dev)
            t = emb(ids)
            n1, n2 = len(p.prefix), len(p.prefix) + len(p.suffix)
            seqs.append(
                torch.cat([t[:n1], v.to(t.dtype), t[n1:]], dim=0))
            lab = torch.full((len(seqs[-1]), ), -100, device=dev)
            if p.answer:
                lab[-len(p.answer):] = ids[n2:]
            if text_labels:
                # the prompt's own tokens (the answer's stay in ``lab``)
                nv = len(v)
                txt = torch.full_like(lab, -100)
                txt[:n1] = ids[:n1]
                txt[n1 + nv:n2 + nv] = ids[n1:n2]
                lab = torch.stack([lab, txt])
            labels.append(lab)
        length = max(len(s) for s in seqs)
        pad = emb(torch.tensor([self.pad_token_id], device=dev))[0]
        b = len(seqs)
        x = pad.expand(b, length, -1).clone()
        mask = torch.zeros(b, length, dtype=torch.long, device=dev)
        lab = torch.full((b, 2, length) if text_labels else (b, length),
                         -100, dtype=torch.long, device=dev)
        for i, (s, lb) in enumerate(zip(seqs, labels)):
            sl = slice(length - len(s), length) if left_pad else \
                slice(0, len(s))
            x[i, sl] = s
            mask[i, sl] = 1
            lab[i, ..., sl] = lb
        if text_labels:
            return x, mask, lab[:, 0], lab[:, 1]
        return x, mask, lab

    def _token_normaliser(self, num_tokens: int) -> Tensor:
        """The divisor that makes the loss a mean over the answer tokens of
        the *global* batch.

        Distributed, each rank divides its token-loss sum by (answer tokens
        on all ranks) / world size: DDP averages gradients over ranks, so
        the result equals one process's mean over the same global batch
        (a per-rank mean would weight the tokens of a rank with few answer
        tokens more).
        """
        emb = self.model.get_input_embeddings()
        count = torch.tensor(
            float(num_tokens), device=emb.weight.device, dtype=torch.float32)
        world = get_world_size()
        if world > 1:
            all_reduce(count)  # sum over ranks
        return count.clamp(min=1.0) / world

    def loss(self, visual: Sequence[Tensor],
             prompts: Sequence[EncodedPrompt],
             text_loss: bool = False) -> Dict[str, Tensor]:
        """Answer-only language-modelling loss.

        The mean over the answer tokens (+ EOS) of all sequences of the
        global batch: in distributed training the token count is summed
        over ranks (see :meth:`_token_normaliser`), so **every rank must
        call this method** each step, with empty ``prompts`` if it has no
        question.

        Args:
            visual (Sequence[Tensor]): Per sequence (Nv_i, H) embeddings.
            prompts (Sequence[EncodedPrompt]): Per sequence, with answers.
            text_loss (bool): Also return ``loss_text``, the mean
                next-token loss over the prompt's text tokens (this
                process's batch): plain language modelling of the prompt,
                for text-only pre-training.

        Returns:
            dict[str, Tensor]: ``loss`` (and ``loss_text``); empty when
            ``prompts`` is empty.
        """
        denom = self._token_normaliser(sum(len(p.answer) for p in prompts))
        if not prompts:
            return {}
        text_labels = None
        if text_loss:
            x, _, labels, text_labels = self._assemble(
                visual, prompts, left_pad=False, text_labels=True)
        else:
            x, _, labels = self._assemble(visual, prompts, left_pad=False)
        # Right padding: in a causal LM no real token attends to the padding
        # after it, so the mask changes nothing but would take attention
        # off its fast causal path (2-3x slower on CPU).
        out = self.model(inputs_embeds=x, use_cache=False)
        # token t predicts token t + 1
        logits = out.logits[:, :-1].float()
        target = labels[:, 1:]
        loss_sum = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            target.reshape(-1),
            ignore_index=-100,
            reduction='sum')
        out = dict(loss=loss_sum / denom)
        if text_labels is not None:
            out['loss_text'] = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                text_labels[:, 1:].reshape(-1),
                ignore_index=-100)
        return out

    def describe_prompt(self, prompt: EncodedPrompt, num_visual: int) -> str:
        """A sequence as text, its visual (soft + box) tokens marked: what
        the LLM received."""
        dec = self.tokenizer.decode
        return (dec(prompt.prefix, skip_special_tokens=True) +
                f'<{num_visual} visual tokens>' +
                dec(prompt.suffix, skip_special_tokens=True))

    @torch.no_grad()
    def generate(self, visual: Sequence[Tensor],
                 prompts: Sequence[EncodedPrompt], **kwargs) -> List[str]:
        """Batched greedy/sampled generation (left-padded, KV cache).

        Args:
            visual (Sequence[Tensor]): Per sequence (Nv_i, H).
            prompts (Sequence[EncodedPrompt]): Without answers.
            **kwargs: Override ``generation_cfg``.

        Returns:
            list[str]: One stripped answer per sequence.
        """
        if not prompts:
            return []
        x, mask, _ = self._assemble(visual, prompts, left_pad=True)
        cfg = dict(self.generation_cfg, **kwargs)
        cfg.setdefault('pad_token_id', self.pad_token_id)
        cfg.setdefault('eos_token_id', self.eos_token_id)
        ids = self.model.generate(
            inputs_embeds=x, attention_mask=mask, use_cache=True, **cfg)
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [t.strip() for t in texts]
