"""Deprecated: see :mod:`mmmrmllm.models.gt_schedule`."""
from ._moved import GTPerceptionSchedule, corrupt_objects

__all__ = ['GTPerceptionSchedule', 'corrupt_objects']
