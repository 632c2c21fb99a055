"""Moved to :mod:`mmmrmllm.analysis.counterfactual`; this old path
warns and will be removed in the next release."""
import sys

from ._moved import MovedModule

sys.modules[__name__].__class__ = MovedModule
