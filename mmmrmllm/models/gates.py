"""The coupling mechanisms' gates, found through their base classes."""
from typing import Dict

from torch import nn

from .feedback.base import BaseFeedback
from .fusion.base import BaseFusion


def mechanism_gates(model: nn.Module) -> Dict[str, nn.Parameter]:
    """The gates of every fusion and feedback inside ``model``
    (:meth:`BaseFusion.gate_parameters`,
    :meth:`BaseFeedback.gate_parameters`).

    Args:
        model (nn.Module): E.g. an :class:`MRMLLM` (or a wrapper of one).

    Returns:
        dict[str, Parameter]: By full name, in ``model.named_parameters()``
        order (``fusion.p_gate``, ``feedback.gate``, ...).
    """
    ids = {
        id(p)
        for m in model.modules() if isinstance(m, (BaseFusion, BaseFeedback))
        for p in m.gate_parameters().values()
    }
    return {n: p for n, p in model.named_parameters() if id(p) in ids}
