"""BaseFusion: the contract of a fusion (streams → shared queries)."""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn


class BaseFusion(BaseModule, metaclass=ABCMeta):
    """Base class of the fusions: learned queries read the MLLM's visual
    tokens and, optionally, the detector's features and the box tokens;
    the result, the shared queries, goes to the LLM (through the language
    projection) and to the feedback.

    The joint model builds ``model.fusion`` from its config with
    ``vision_dims`` (the vision encoder's ``embed_dims``) and
    ``det_feat_dims`` (the detector neck's widths; None when the detector
    features do not join) filled in, and reads ``hidden_size`` (the shared
    queries' width), ``num_queries`` and ``memory_dims`` (the width of the
    box tokens it is given). A subclass implements :meth:`memory` (what the
    queries attend to: it depends on the image alone, so several questions
    about one image compute it once), :meth:`query` and
    :meth:`gate_parameters`; the claim study and ``tools/demo.py`` report
    the gates' sizes through the latter.

    Args:
        vision_dims (int): Width of the encoder tokens.
        det_feat_dims (int | Sequence[int], optional): Channels of the
            detector neck, one per level where the levels differ. Defaults
            to None (no detector features).
        num_queries (int): Number of shared queries. Defaults to 32.
        hidden_size (int): Query width. Defaults to 768.
        memory_dims (int, optional): Width of the memory. Defaults to None
            (``vision_dims``).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 vision_dims: int,
                 det_feat_dims: Optional[Union[int, Sequence[int]]] = None,
                 num_queries: int = 32,
                 hidden_size: int = 768,
                 memory_dims: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.vision_dims = vision_dims
        self.det_feat_dims = det_feat_dims
        self.num_queries = num_queries
        self.hidden_size = hidden_size
        self.memory_dims = memory_dims or vision_dims

    def forward(self,
                visual_tokens: Tensor,
                num_prefix_tokens: int = 0,
                grid: Optional[Tuple[int, int]] = None,
                perception_feats: Optional[Sequence[Tensor]] = None,
                valid_hw: Optional[List[Tuple[int, int]]] = None,
                pad_hw: Optional[Tuple[int, int]] = None,
                perception_tokens: Optional[Tensor] = None,
                perception_mask: Optional[Tensor] = None,
                instruction_ids: Optional[Tensor] = None,
                instruction_mask: Optional[Tensor] = None) -> Tensor:
        """Compute the shared queries: :meth:`query` over :meth:`memory`.

        Args:
            visual_tokens (Tensor): ``Vf_m``, (B, L, Cv) = prefix + patches.
            num_prefix_tokens (int): Leading CLS/extra tokens in L.
            grid (tuple[int, int], optional): Patch grid (gh, gw),
                ``gh * gw == L - num_prefix_tokens``.
            perception_feats (Sequence[Tensor], optional): ``Vf_p``, the
                detector's neck levels (B, Cp, Hl, Wl).
            valid_hw (list[tuple[int, int]], optional): Per-sample valid
                (h, w) in the padded detector input.
            pad_hw (tuple[int, int], optional): Padded input size.
            perception_tokens (Tensor, optional): Box tokens, (B, P, Cm).
            perception_mask (Tensor, optional): (B, P) bool, True = valid.
            instruction_ids (Tensor, optional): (B, T) instruction ids.
            instruction_mask (Tensor, optional): (B, T) 1 = valid.

        Returns:
            Tensor: Shared queries ``Q_shared``, (B, Nq, hidden_size).
        """
        memory, branch = self.memory(
            visual_tokens, num_prefix_tokens, grid, perception_feats,
            valid_hw, pad_hw, perception_tokens, perception_mask)
        return self.query(memory, branch, instruction_ids, instruction_mask)

    @abstractmethod
    def memory(self,
               visual_tokens: Tensor,
               num_prefix_tokens: int = 0,
               grid: Optional[Tuple[int, int]] = None,
               perception_feats: Optional[Sequence[Tensor]] = None,
               valid_hw: Optional[List[Tuple[int, int]]] = None,
               pad_hw: Optional[Tuple[int, int]] = None,
               perception_tokens: Optional[Tensor] = None,
               perception_mask: Optional[Tensor] = None) -> tuple:
        """What the queries attend to, from the image alone. Arguments as
        :meth:`forward`.

        Returns:
            tuple: The memory (B, L, memory_dims) and whatever else
            :meth:`query` reads (e.g. a gated branch, or None).
        """

    @abstractmethod
    def query(self,
              memory: Tensor,
              branch=None,
              instruction_ids: Optional[Tensor] = None,
              instruction_mask: Optional[Tensor] = None) -> Tensor:
        """The shared queries (B, num_queries, hidden_size) over what
        :meth:`memory` returned, with the instruction of :meth:`forward`.
        """

    @abstractmethod
    def gate_parameters(self) -> Dict[str, nn.Parameter]:
        """The gates: parameters that scale what the detector side adds
        (zero at the start leaves the MLLM's own path unchanged).

        Returns:
            dict[str, Parameter]: By name, as in :meth:`named_parameters`.
        """
