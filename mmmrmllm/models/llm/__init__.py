from .llm_head import LLMHead
from .prompt_encoding import EncodedPrompt, majority_answer
from .subword_tokenizer import train_subword_tokenizer

__all__ = [
    'EncodedPrompt', 'LLMHead', 'majority_answer',
    'train_subword_tokenizer'
]
