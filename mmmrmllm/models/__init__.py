"""Models of mmmrmllm; importing registers them in ``mmmrmllm.registry``."""
from mmmrmllm.text import DetectionPromptGenerator, PerceptionPromptGenerator

from .box_tokens import BoxTokenEncoder, PerceptionEncoder
from .data_preprocessors import MRMLLMDataPreprocessor
from .det_adapters import (
                           BaseDetectorAdapter,
                           DETRAdapter,
                           SingleStageAdapter,
                           TwoStageAdapter,
                           build_detector_adapter,
)
from .feedback import BaseFeedback, PerceptionFeedback
from .fusion import BaseFusion, SharedQueryFusion
from .gates import mechanism_gates
from .language_pretrainer import LanguagePretrainer
from .llm import LLMHead
from .mllm_directory import (
                             MLLMDirectory,
                             load_instructblip,
                             load_qformer,
                             save_instructblip,
)
from .mrmllm import MRMLLM
from .pretraining import RegionTextContrastive
from .vision_encoders import HFVisionEncoder, MMVisionEncoder, VisualTokens

__all__ = [
    'MRMLLMDataPreprocessor', 'BaseDetectorAdapter', 'SingleStageAdapter',
    'TwoStageAdapter', 'DETRAdapter', 'build_detector_adapter',
    'BaseFusion', 'SharedQueryFusion', 'BaseFeedback', 'PerceptionFeedback',
    'mechanism_gates', 'LanguagePretrainer', 'LLMHead', 'MRMLLM',
    'BoxTokenEncoder', 'DetectionPromptGenerator', 'PerceptionEncoder',
    'PerceptionPromptGenerator', 'RegionTextContrastive', 'HFVisionEncoder',
    'MMVisionEncoder', 'VisualTokens', 'load_instructblip', 'load_qformer',
    'save_instructblip', 'MLLMDirectory'
]
