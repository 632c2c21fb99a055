from .mrmllm_data_preprocessor import MRMLLMDataPreprocessor

__all__ = ['MRMLLMDataPreprocessor']
