"""Analyses of a trained model on CornerShapes (knowledge probe, colour
counterfactual); above :mod:`mmmrmllm.apis`, which is inference only."""
from .counterfactual import (
                             COMMON_COLOURS,
                             colour_question,
                             recolour_counterfactual,
)
from .knowledge_probe import (
                              LinearProbe,
                              knowledge_probe,
                              object_features,
                              pool_boxes,
)

__all__ = [
    'COMMON_COLOURS', 'colour_question', 'recolour_counterfactual',
    'LinearProbe', 'knowledge_probe', 'object_features', 'pool_boxes'
]
