"""An InstructBLIP / BLIP-2 ``save_pretrained`` directory: reading its
config (:mod:`.config`, the one reader of ``config.json``), loading its
weights (:mod:`.weights`), exporting one (:mod:`.export`, with its model
card, :mod:`.card`), and :class:`MLLMDirectory`, the one entry point the
joint model calls."""
from .card import card_call, model_card
from .config import fill_from_pretrained, read_mllm_config
from .directory import (
                        MLLM_PARTS,
                        MLLMDirectory,
                        load_instruction_tokenizer,
                        resolve_instruction,
)
from .export import instructblip_state, save_instructblip
from .weights import (
                      load_instructblip,
                      load_mapped,
                      load_qformer,
                      read_state_dict,
                      summarize,
)

__all__ = [
    'MLLM_PARTS', 'MLLMDirectory', 'card_call', 'fill_from_pretrained',
    'instructblip_state', 'load_instructblip', 'load_instruction_tokenizer',
    'load_mapped', 'load_qformer', 'model_card', 'read_mllm_config',
    'read_state_dict', 'resolve_instruction', 'save_instructblip',
    'summarize'
]
