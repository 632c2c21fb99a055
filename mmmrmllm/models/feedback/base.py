"""BaseFeedback: the contract of a feedback (shared queries → detector)."""
from abc import ABCMeta, abstractmethod
from typing import Dict, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn


class BaseFeedback(BaseModule, metaclass=ABCMeta):
    """Base class of the feedbacks: the shared queries flow back into the
    detector's neck features before its head runs.

    The joint model builds ``model.feedback`` from its config with the
    widths filled in: ``in_channels`` (read from the detector's neck
    config, else probed), ``num_levels`` (the neck's levels, where probed)
    and ``query_dims`` (the fusion's ``hidden_size``). A subclass
    implements :meth:`forward` and :meth:`gate_parameters`; the claim study
    and ``tools/demo.py`` report the gates' sizes through the latter.

    Args:
        in_channels (int | Sequence[int]): Neck width, or one per level.
        query_dims (int): Width of the shared queries.
        num_levels (int, optional): Number of neck levels. Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 query_dims: int,
                 num_levels: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.query_dims = query_dims
        self.num_levels = num_levels

    @abstractmethod
    def forward(self, feats: Sequence[Tensor],
                queries: Tensor) -> Tuple[Tensor, ...]:
        """Feed the shared queries back.

        Args:
            feats (Sequence[Tensor]): Neck levels, each (B, C, Hl, Wl).
            queries (Tensor): Shared queries, (B, Nq, query_dims).

        Returns:
            tuple[Tensor]: The levels the head reads, same shapes.
        """

    @abstractmethod
    def gate_parameters(self) -> Dict[str, nn.Parameter]:
        """The gates: parameters that scale what the queries add (zero at
        the start gives the detector exactly its own features).

        Returns:
            dict[str, Parameter]: By name, as in :meth:`named_parameters`.
        """
