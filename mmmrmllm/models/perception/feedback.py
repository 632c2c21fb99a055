"""PerceptionFeedback: the shared queries flow back into the detector."""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmmrmllm.registry import MODELS


@MODELS.register_module()
class PerceptionFeedback(BaseModule):
    """Neck features cross-attend to the shared queries through a zero gate.

    For every level ``x`` (B, C, H, W): ``x + g * Attn(LN(x), Q, Q)`` with
    ``g`` a per-channel gate initialised to zero, so at step 0 the detector's
    head sees exactly its own features. One attention serves all levels
    (plus a learned level embedding on the attention's query side), which
    keeps the module generic for any detector neck.

    Args:
        in_channels (int): Neck channels C.
        query_dims (int): Width of the shared queries.
        num_levels (int): Maximum number of neck levels.
        num_heads (int): Attention heads.
        dropout (float): Attention dropout.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 query_dims: int,
                 num_levels: int = 5,
                 num_heads: int = 8,
                 dropout: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
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
        self.gate = nn.Parameter(torch.zeros(in_channels))

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
        # every level's pixels in one sequence: one attention call (the
        # pixels attend to the queries independently, so this equals one
        # call per level, with a fraction of the overhead)
        seqs = [
            self.norm(x.flatten(2).transpose(1, 2)) + self.level_embed[lvl]
            for lvl, x in enumerate(feats)
        ]
        delta, _ = self.attn(torch.cat(seqs, dim=1), queries, queries,
                             need_weights=False)
        delta = self.gate * delta
        out, start = [], 0
        for x in feats:
            b, c, h, w = x.shape
            d = delta[:, start:start + h * w].transpose(1, 2)
            start += h * w
            out.append(x + d.reshape(b, c, h, w))
        return tuple(out)
