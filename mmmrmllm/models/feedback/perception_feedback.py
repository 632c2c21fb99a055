"""PerceptionFeedback: the shared queries flow back into the detector."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from mmmrmllm.registry import MODELS

from .base import BaseFeedback


@MODELS.register_module()
class PerceptionFeedback(BaseFeedback):
    """Neck features cross-attend to the shared queries through a zero gate.

    For every level ``x`` (B, C, H, W): ``x + g * Attn(LN(x), Q, Q)`` with
    ``g`` a per-channel gate initialised to zero, so at step 0 the detector's
    head sees exactly its own features. One attention serves all levels
    (plus a learned level embedding on the attention's query side), which
    keeps the module generic for any detector neck.

    Args:
        in_channels (int | Sequence[int]): Neck channels C, or one per
            level where the levels differ (YOLOv3, SSD, ...): each level
            then maps to the widest level's width and back through its own
            linear layers, with a per-level zero gate.
        query_dims (int): Width of the shared queries.
        num_levels (int): Maximum number of neck levels (the length of
            ``in_channels`` when that is a list). Defaults to 5.
        num_heads (int): Attention heads. Defaults to 8.
        dropout (float): Attention dropout. Defaults to 0.0.
        gate_init (float): Start value of the gate(s); 0 gives the detector
            exactly its own features at step 0. Defaults to 0.0.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 query_dims: int,
                 num_levels: int = 5,
                 num_heads: int = 8,
                 dropout: float = 0.0,
                 gate_init: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, query_dims, num_levels, init_cfg)
        widths = None
        if isinstance(in_channels, (list, tuple)):
            widths = [int(c) for c in in_channels]
            num_levels = len(widths)
            if len(set(widths)) == 1:
                in_channels, widths = widths[0], None
            else:
                in_channels = max(widths)
        self.level_widths, self.num_levels = widths, num_levels
        if in_channels % num_heads:
            num_heads = 1
        self.norm = nn.LayerNorm(in_channels)
        self.level_embed = nn.Parameter(torch.zeros(num_levels, in_channels))
        self.attn = nn.MultiheadAttention(
            in_channels,
            num_heads,
            dropout=dropout,
            kdim=query_dims,
            vdim=query_dims,
            batch_first=True)
        if widths is None:
            self.gate = nn.Parameter(torch.full((in_channels, ), gate_init))
        else:
            self.level_in = nn.ModuleList(
                nn.Linear(c, in_channels) for c in widths)
            self.level_out = nn.ModuleList(
                nn.Linear(in_channels, c) for c in widths)
            self.level_gates = nn.ParameterList(
                nn.Parameter(torch.full((c, ), gate_init)) for c in widths)

    def gate_parameters(self) -> Dict[str, nn.Parameter]:
        """``gate`` (C,), or ``level_gates.<i>`` per level of its own width.
        """
        if self.level_widths is None:
            return {'gate': self.gate}
        return {f'level_gates.{i}': g for i, g in enumerate(self.level_gates)}

    def forward(self, feats: Sequence[Tensor],
                queries: Tensor) -> Tuple[Tensor, ...]:
        """Feed the shared queries back.

        Args:
            feats (Sequence[Tensor]): Levels, each (B, C, Hl, Wl).
            queries (Tensor): Shared queries, (B, Nq, Cq).

        Returns:
            tuple[Tensor]: Levels, same shapes.
        """
        if len(feats) > self.level_embed.shape[0]:
            raise ValueError(f'{len(feats)} neck levels, but PerceptionFeed'
                             f'back was built for {self.level_embed.shape[0]}'
                             ' (num_levels)')
        if self.level_widths is not None and len(feats) != len(
                self.level_widths):
            raise ValueError(f'{len(feats)} neck levels, but PerceptionFeed'
                             f'back was built for in_channels='
                             f'{self.level_widths}')
        # every level's pixels in one sequence: one attention call (the
        # pixels attend to the queries independently, so this equals one
        # call per level, with a fraction of the overhead)
        seqs = []
        for lvl, x in enumerate(feats):
            t = x.flatten(2).transpose(1, 2)
            if self.level_widths is not None:
                t = self.level_in[lvl](t)
            seqs.append(self.norm(t) + self.level_embed[lvl])
        delta, _ = self.attn(torch.cat(seqs, dim=1), queries, queries,
                             need_weights=False)
        if self.level_widths is None:
            # one product over all levels: the gate's gradient is one sum,
            # as before per-level widths existed (bit-identical training)
            delta = self.gate * delta
        out, start = [], 0
        for lvl, x in enumerate(feats):
            b, c, h, w = x.shape
            d = delta[:, start:start + h * w]
            start += h * w
            if self.level_widths is not None:
                d = self.level_gates[lvl] * self.level_out[lvl](d)
            out.append(x + d.transpose(1, 2).reshape(b, c, h, w))
        return tuple(out)
