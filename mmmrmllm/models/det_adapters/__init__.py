"""Detector adapters: run an mmdet detector's head on given features.

mmdet detectors' ``loss``/``predict`` take *images* and call
``extract_feat`` inside. Every family's body then only calls public head
methods, so one adapter per mmdet base class mirrors those bodies on
features that the joint model may have changed (PerceptionFeedback). The
backbone therefore runs once per image, and so does the head:
``loss_and_predict_from_feats`` decodes the training forward's own outputs
(no-grad copies; DETR denoising queries excluded) instead of running the
head a second time for the detections the LLM reads.

One module per mmdet base class family: :mod:`.single_stage` (one-stage
dense heads), :mod:`.two_stage` (RPN + R-CNN), :mod:`.detr` (DETR-like)
and :mod:`.grounding_dino`; :mod:`.base` holds the interface, the adapter
registry and :func:`build_detector_adapter`.
"""
from .base import (
    _ADAPTERS,
    BaseDetectorAdapter,
    build_detector_adapter,
    register_detector_adapter,
)
from .utils import capture_forward, ensure_loop_info, eval_mode

# isort: off
# importing registers the built-in adapters, in this order
from .single_stage import SingleStageAdapter
from .two_stage import TwoStageAdapter
from .detr import DETRAdapter
from .grounding_dino import GroundingDINOAdapter
# isort: on

__all__ = [
    '_ADAPTERS', 'BaseDetectorAdapter', 'SingleStageAdapter',
    'TwoStageAdapter', 'DETRAdapter', 'GroundingDINOAdapter',
    'build_detector_adapter', 'capture_forward', 'ensure_loop_info',
    'eval_mode', 'register_detector_adapter'
]
