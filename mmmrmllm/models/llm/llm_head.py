"""LLMHead: a Hugging Face causal LM with its tokenizer.

Loading and its checks live in :mod:`.loading`, prompt tokenisation in
:mod:`.prompt_encoding`, generation in :mod:`.generation`; this module
assembles the sequences and computes the loss.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmengine.model import BaseModule
from torch import Tensor

from mmmrmllm.registry import MODELS
from mmmrmllm.text import ANSWER_PREFIX, IMAGE_TOKEN, PROMPT_TEMPLATE

from .generation import GenerationMixin
from .loading import (
    ATTENTION_PROJECTIONS,
    apply_lora,
    build_causal_lm,
    check_dirs,
    check_token_ids,
    check_vocab,
    context_length,
    load_tokenizer,
    lora_targets,
)
from .prompt_encoding import (
    TOKEN_LAYOUTS,
    EncodedPrompt,
    PromptEncodingMixin,
    chat_prompt_template,
    majority_answer,
)

__all__ = [
    'LLMHead', 'EncodedPrompt', 'majority_answer', 'IMAGE_TOKEN',
    'ATTENTION_PROJECTIONS', 'TOKEN_LAYOUTS', 'check_token_ids',
    'lora_targets'
]


@MODELS.register_module()
class LLMHead(GenerationMixin, PromptEncodingMixin, BaseModule):
    """Any ``AutoModelForCausalLM`` (LLaMA/Vicuna, Qwen2/3, Mistral, GPT-2,
    SmolLM, ...) with its tokenizer, fed visual embeddings and text.

    A sequence is ``prefix | visual | suffix | answer`` (``token_layout=
    'template'``, the default): the prompt template is split at
    ``<image>``, the text before it is tokenised with the tokenizer's
    special tokens (BOS), ``{perception}`` and ``{question}`` fill the
    suffix. With ``token_layout='visual_first'`` it is ``visual | BOS +
    prompt text | answer``, the layout of BLIP-2 / InstructBLIP (what
    ``InstructBlipProcessor`` and ``InstructBlipForConditionalGeneration``
    build): the query tokens come first, then the tokenizer's BOS and the
    whole formatted template with ``<image>`` removed, tokenised in one
    piece. The loss covers answer tokens only (everything else is -100).
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
            ``{perception}`` optional. With ``chat_template=True``: the
            user turn only.
        chat_template (bool): Wrap ``prompt_template`` as the user turn in
            the tokenizer's own chat template (its generation prompt
            included, literal braces escaped, no second BOS). Defaults to
            False.
        token_layout (str): ``'template'`` (default: BOS and the text
            before ``<image>``, the visual tokens, the rest) or
            ``'visual_first'`` (the visual tokens, then BOS + the whole
            prompt text: BLIP-2 / InstructBLIP's layout; what
            ``MRMLLM(pretrained_mllm=...)`` uses unless told otherwise).
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
                 prompt_template: str = PROMPT_TEMPLATE,
                 chat_template: bool = False,
                 token_layout: str = 'template',
                 answer_prefix: str = ANSWER_PREFIX,
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
        if token_layout not in TOKEN_LAYOUTS:
            raise ValueError(f'token_layout must be one of {TOKEN_LAYOUTS}, '
                             f'got {token_layout!r}')
        self.token_layout = token_layout
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
        check_dirs(name_or_path, tok_path)
        self.tokenizer = load_tokenizer(tok_path, name_or_path, gguf_file)
        model = build_causal_lm(name_or_path, model_cfg, gguf_file, dtype)
        self.source = name_or_path
        check_vocab(self.tokenizer, model, tok_path)
        tok = self.tokenizer
        self.eos_token_id = tok.eos_token_id
        # Llama/GPT-2 tokenizers have no pad token; padding positions are
        # masked out anyway, so EOS serves.
        self.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None \
            else self.eos_token_id
        self.train_mode = train_mode
        if train_mode == 'lora':
            model = apply_lora(model, lora_cfg)
        self.model = model
        if train_mode == 'frozen':
            self.model.requires_grad_(False)
            self.model.eval()
        if chat_template:
            prompt_template = chat_prompt_template(tok, prompt_template,
                                                   tok_path)
        self.prompt_template = prompt_template
        self.answer_prefix = answer_prefix
        self.max_length = context_length(model.config, max_length)
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
