"""Models of mmmrmllm; importing registers them in ``mmmrmllm.registry``."""
from .data_preprocessors import MRMLLMDataPreprocessor
from .detectors import (
                        BaseDetectorAdapter,
                        DETRAdapter,
                        SingleStageAdapter,
                        TwoStageAdapter,
                        build_detector_adapter,
)
from .fusion import SharedQueryFusion
from .language_pretrainer import LanguagePretrainer
from .llm import LLMHead
from .mllm_directory import (
                             MLLMDirectory,
                             load_instructblip,
                             load_qformer,
                             save_instructblip,
)
from .mrmllm import MRMLLM
from .perception import (
                        PerceptionEncoder,
                        PerceptionFeedback,
                        PerceptionPromptGenerator,
)
from .pretraining import RegionTextContrastive
from .vision_encoders import HFVisionEncoder, MMVisionEncoder, VisualTokens

__all__ = [
    'MRMLLMDataPreprocessor', 'BaseDetectorAdapter', 'SingleStageAdapter',
    'TwoStageAdapter', 'DETRAdapter', 'build_detector_adapter',
    'SharedQueryFusion', 'LanguagePretrainer', 'LLMHead', 'MRMLLM',
    'PerceptionEncoder', 'PerceptionFeedback', 'PerceptionPromptGenerator',
    'RegionTextContrastive',
    'HFVisionEncoder', 'MMVisionEncoder', 'VisualTokens', 'load_instructblip',
    'load_qformer', 'save_instructblip', 'MLLMDirectory'
]
