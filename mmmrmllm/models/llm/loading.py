"""Loading an LLM and its tokenizer for :class:`LLMHead`, with the checks
that name a wrong setting instead of failing deep inside the model."""
import os
from typing import Optional

import torch
import transformers
from mmengine.logging import print_log

from .byte_tokenizer import BYTE_TOKENIZER, build_byte_tokenizer

ATTENTION_PROJECTIONS = ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'qkv_proj',
                         'query_key_value', 'c_attn', 'Wqkv', 'query',
                         'key', 'value')


def check_dirs(name_or_path: Optional[str],
               tok_path: Optional[str]) -> None:
    """Refuse a weights or tokenizer path that is not a local directory.

    Args:
        name_or_path (str, optional): The LLM's weights directory.
        tok_path (str, optional): The tokenizer directory (or ``'byte'``).
    """
    for path, what in ((name_or_path, 'LLM weights'),
                       (tok_path, 'tokenizer')):
        if path not in (None, BYTE_TOKENIZER) and not os.path.isdir(path):
            raise FileNotFoundError(f'{what} directory {path!r} not found '
                                    '(LLMHead loads local directories '
                                    'only)')
    if tok_path is None:
        raise ValueError('a model built from model_cfg needs a tokenizer '
                         'directory')


def load_tokenizer(tok_path: str, name_or_path: Optional[str],
                   gguf_file: Optional[str]):
    """The tokenizer in ``tok_path``, or the built-in byte tokenizer.

    Args:
        tok_path (str): Tokenizer directory or ``'byte'``.
        name_or_path (str, optional): The LLM's directory; a ``gguf_file``
            is read from it when the tokenizer lives there too.
        gguf_file (str, optional): GGUF file name inside ``name_or_path``.

    Returns:
        PreTrainedTokenizerBase: The tokenizer.
    """
    if tok_path == BYTE_TOKENIZER:
        return build_byte_tokenizer()
    kwargs = dict(gguf_file=gguf_file) if gguf_file and \
        tok_path == name_or_path else {}
    return transformers.AutoTokenizer.from_pretrained(tok_path, **kwargs)


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


def build_causal_lm(name_or_path: Optional[str], model_cfg: Optional[dict],
                    gguf_file: Optional[str],
                    dtype: Optional[torch.dtype]) -> torch.nn.Module:
    """A randomly initialised model from ``model_cfg`` or the pretrained
    one in ``name_or_path``.

    Args:
        name_or_path (str, optional): Local ``from_pretrained`` directory.
        model_cfg (dict, optional): ``model_type`` + config kwargs.
        gguf_file (str, optional): GGUF file name inside ``name_or_path``.
        dtype (torch.dtype, optional): Parameter dtype.

    Returns:
        nn.Module: An ``AutoModelForCausalLM``.
    """
    if model_cfg is not None:
        cfg = dict(model_cfg)
        config = transformers.AutoConfig.for_model(
            cfg.pop('model_type'), **cfg)
        check_token_ids(config)
        return transformers.AutoModelForCausalLM.from_config(
            config, torch_dtype=dtype)
    kwargs = dict(torch_dtype=dtype)
    if gguf_file:
        kwargs['gguf_file'] = gguf_file
    return transformers.AutoModelForCausalLM.from_pretrained(
        name_or_path, **kwargs)


def check_vocab(tokenizer, model: torch.nn.Module, tok_path: str) -> None:
    """Refuse a tokenizer with more tokens than the model embeds, or one
    without an EOS token."""
    vocab = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > vocab:
        raise ValueError(
            f'tokenizer {tok_path!r} has {len(tokenizer)} tokens but '
            f'the LLM embeds only {vocab}: they do not belong together')
    if tokenizer.eos_token_id is None:
        raise ValueError(f'tokenizer {tok_path!r} has no EOS token')


def context_length(config, max_length: Optional[int]) -> int:
    """``max_length``, else the model's context length.

    Args:
        config: The model's config.
        max_length (int, optional): The configured context length.

    Returns:
        int: The context length.
    """
    ctx = getattr(config, 'max_position_embeddings', None) or getattr(
        config, 'n_positions', None)
    length = max_length or ctx
    if length is None:
        raise ValueError('cannot tell the LLM context length; set '
                         'max_length')
    return length


def lora_targets(model: torch.nn.Module) -> Optional[list]:
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


def apply_lora(model: torch.nn.Module,
               lora_cfg: Optional[dict]) -> torch.nn.Module:
    """``model`` wrapped by peft with LoRA adapters.

    Args:
        model (nn.Module): The causal LM.
        lora_cfg (dict, optional): ``peft.LoraConfig`` kwargs over
            ``r=8, lora_alpha=16, lora_dropout=0.05``; ``target_modules``
            defaults to :func:`lora_targets`.

    Returns:
        nn.Module: The peft model.
    """
    import peft
    lora = dict(r=8, lora_alpha=16, lora_dropout=0.05)
    lora.update(lora_cfg or {})
    if lora.get('target_modules') is None:
        lora['target_modules'] = lora_targets(model)
    return peft.get_peft_model(
        model, peft.LoraConfig(task_type='CAUSAL_LM', **lora))
