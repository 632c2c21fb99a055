from .llm_head import EncodedPrompt, LLMHead, majority_answer

__all__ = ['EncodedPrompt', 'LLMHead', 'majority_answer']
