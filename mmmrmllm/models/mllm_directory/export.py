"""Saving the MLLM parts of an MRMLLM as a standard Hugging Face
InstructBLIP directory."""
import copy
import os
from typing import Dict, Optional, Sequence, Tuple

from mmengine.logging import MMLogger
from torch import Tensor, nn

from .card import model_card
from .config import VISION_TYPES

# the fusion's own perception parameters (Eq. 1's projection and gates):
# MR-MLLM's, not the Q-Former's, so an InstructBLIP export leaves them out
_PERCEPTION_KEYS = ('p_proj.', 'p_gate', 'p_level_proj.', 'perception_')


def _fusion_to_qformer(key: str) -> Optional[str]:
    """A :class:`SharedQueryFusion` key → its HF InstructBLIP key (the
    inverse of :func:`load_qformer`'s mapping; InstructBLIP keeps the
    LayerNorm in ``qformer.embeddings``), None for a perception part."""
    if key.startswith(_PERCEPTION_KEYS) or \
            key.split('.')[-1].startswith(_PERCEPTION_KEYS):
        return None
    if key == 'query_tokens':
        return key
    if key.startswith(('embeddings.', 'encoder.')):
        return 'qformer.' + key
    raise ValueError(f'fusion.{key} has no place in an InstructBLIP '
                     'Q-Former')


def instructblip_state(model: nn.Module) -> Tuple[Dict[str, Tensor], dict]:
    """The MLLM parts of an MRMLLM as an HF InstructBLIP state dict and
    the ``InstructBlipConfig`` kwargs that describe them.

    Args:
        model (MRMLLM): With an InstructBLIP (or BLIP-2) vision tower in
            :class:`HFVisionEncoder`, a :class:`SharedQueryFusion` without
            perception parts and an :class:`LLMHead`.

    Returns:
        tuple[dict, dict]: The state dict and the config kwargs.
    """
    tower = getattr(model.vision_encoder, 'model', None)
    vtype = getattr(getattr(tower, 'config', None), 'model_type', None)
    if vtype not in VISION_TYPES.values():
        raise ValueError(
            'an InstructBLIP directory needs an InstructBLIP vision tower '
            "(HFVisionEncoder with model_type='instructblip_vision_model'),"
            f' got {vtype or type(model.vision_encoder).__name__!r}')
    fusion = model.fusion
    if not isinstance(fusion.v_proj, nn.Identity):
        raise ValueError('an InstructBLIP Q-Former cross-attends to the '
                         'vision tower itself: fusion.memory_dims must equal '
                         'the tower width')
    llm = model.llm.model
    if hasattr(llm, 'merge_and_unload'):
        llm = llm.merge_and_unload()
    state = {'vision_model.' + k: v for k, v in tower.state_dict().items()}
    for k, v in fusion.state_dict().items():
        name = _fusion_to_qformer(k)
        if name is not None:
            state[name] = v
    state.update({
        'language_projection.' + k: v
        for k, v in model.language_projection.state_dict().items()
    })
    state.update({
        'language_model.' + k: v
        for k, v in llm.state_dict().items()
    })
    vision = tower.config.to_dict()
    vision['model_type'] = 'instructblip_vision_model'
    text = llm.config.to_dict()
    config = dict(
        vision_config=vision,
        qformer_config=dict(fusion.qformer_config),
        text_config=text,
        num_query_tokens=fusion.num_queries,
        tie_word_embeddings=bool(text.get('tie_word_embeddings', False)))
    return state, config


def save_instructblip(model: nn.Module,
                      out_dir: str,
                      qformer_tokenizer=None,
                      image_mean: Sequence[float] = (0.48145466, 0.4578275,
                                                     0.40821073),
                      image_std: Sequence[float] = (0.26862954, 0.26130258,
                                                    0.27577711),
                      image_size: Optional[int] = None) -> str:
    """Save the MLLM parts of an MRMLLM as a standard Hugging Face
    InstructBLIP directory: ``InstructBlipForConditionalGeneration.
    save_pretrained`` (vision tower, Q-Former, query tokens, projection,
    language model) plus ``InstructBlipProcessor.save_pretrained`` (image
    processor, the LLM's tokenizer, ``qformer_tokenizer/``) and a model
    card, ``README.md``: the prompt format and a ``transformers`` snippet
    that gives the model the input it was trained on
    (:func:`~mmmrmllm.models.mllm_directory.card.model_card`).

    Every weight is checked to land in the HF model (strict load), so
    ``transformers`` and :func:`load_instructblip` read back exactly the
    parts saved. Query outputs go before the text as in the original
    checkpoints (no ``image_token_index``).

    Args:
        model (MRMLLM): See :func:`instructblip_state`.
        out_dir (str): Output directory.
        qformer_tokenizer (optional): The Q-Former's instruction tokenizer
            (defaults to the LLM's).
        image_mean (Sequence[float]): Encoder-view mean (0-1 scale).
        image_std (Sequence[float]): Encoder-view std (0-1 scale).
        image_size (int, optional): Encoder input side; defaults to the
            tower's ``image_size``.

    Returns:
        str: ``out_dir``.
    """
    from transformers import (
        BlipImageProcessor,
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
    )
    state, config = instructblip_state(model)
    hf = InstructBlipForConditionalGeneration(InstructBlipConfig(**config))
    target = hf.state_dict()
    extra = sorted(set(state) - set(target))
    if extra:
        raise ValueError(f'InstructBLIP has no place for {extra[:5]}')
    res = hf.load_state_dict(state, strict=False)
    tied = {'language_model.lm_head.weight'} \
        if config['tie_word_embeddings'] else set()
    missing = sorted(set(res.missing_keys) - tied)
    if missing:
        raise ValueError(f'the export leaves InstructBLIP weights unset: '
                         f'{missing[:5]}')
    hf.save_pretrained(out_dir)
    size = image_size or config['vision_config']['image_size']
    processor = InstructBlipProcessor(
        image_processor=BlipImageProcessor(
            size=dict(height=size, width=size),
            # Pillow's bicubic: EncoderView's default resize, so both
            # give the same pixels
            resample=3,
            image_mean=list(image_mean),
            image_std=list(image_std)),
        # copies: the processor adds an <image> token to its tokenizer
        tokenizer=copy.deepcopy(model.llm.tokenizer),
        qformer_tokenizer=copy.deepcopy(qformer_tokenizer
                                        or model.llm.tokenizer))
    processor.save_pretrained(out_dir)
    # The LLM's own tokenizer files (without that token, which no id of the
    # LLM embeds: the query outputs go before the text, no image tokens).
    model.llm.tokenizer.save_pretrained(out_dir)
    with open(os.path.join(out_dir, 'README.md'), 'w') as f:
        f.write(model_card(model, size))
    MMLogger.get_current_instance().info(
        f'InstructBLIP directory saved to {out_dir} ({len(state)} tensors)')
    return out_dir
