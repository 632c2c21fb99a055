from .llm_head import EncodedPrompt, LLMHead, majority_answer
from .word_tokenizer import build_word_tokenizer

__all__ = [
    'EncodedPrompt', 'LLMHead', 'build_word_tokenizer', 'majority_answer'
]
