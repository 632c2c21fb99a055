"""Kept for the old import path: the trainer lives in
:mod:`mmmrmllm.text.subword_tokenizer` (the data side trains the
benchmark's tokenizer with it too)."""
from mmmrmllm.text.subword_tokenizer import SPECIALS, train_subword_tokenizer

__all__ = ['SPECIALS', 'train_subword_tokenizer']
