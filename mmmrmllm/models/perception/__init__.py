from .encoder import PerceptionEncoder, sine_encode
from .feedback import PerceptionFeedback
from .prompt_generator import PerceptionObjects, PerceptionPromptGenerator

__all__ = [
    'PerceptionEncoder', 'sine_encode', 'PerceptionFeedback',
    'PerceptionObjects', 'PerceptionPromptGenerator'
]
