"""Text shared by the data side and the models: the detection prompt,
the LLM's default prompt, detector-like noise on ground-truth objects and
the subword tokenizer trainer. It imports neither ``mmmrmllm.datasets``
nor ``mmmrmllm.models``; both import it."""
from .detection_prompt import (
    GRID_WORDS,
    DetectionPromptGenerator,
    PerceptionObjects,
    PerceptionPromptGenerator,
    cell_name,
    grid_cells,
    plural,
    point_cell,
)
from .llm_prompt import (
    ANSWER_PREFIX,
    IMAGE_TOKEN,
    PROMPT_TEMPLATE,
    text_sequence_template,
)
from .perception_noise import corrupt_objects
from .subword_tokenizer import text_normalizer, train_subword_tokenizer

__all__ = [
    'ANSWER_PREFIX', 'IMAGE_TOKEN', 'PROMPT_TEMPLATE',
    'text_sequence_template', 'corrupt_objects', 'GRID_WORDS',
    'DetectionPromptGenerator', 'PerceptionObjects',
    'PerceptionPromptGenerator', 'cell_name', 'grid_cells', 'plural',
    'point_cell', 'text_normalizer', 'train_subword_tokenizer'
]
