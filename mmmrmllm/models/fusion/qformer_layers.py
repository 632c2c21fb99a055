"""Q-Former building blocks laid out like HF's BLIP-2 / InstructBLIP.

Attribute names follow ``transformers``' ``InstructBlipQFormer*`` modules
(``attention.attention.query``, ``crossattention.output.LayerNorm``,
``intermediate_query``, ``output_query`` ...) so an InstructBLIP or BLIP-2
Q-Former state dict loads one-to-one. The only addition is a *perception
branch* in the cross-attention: the queries attend, with the layer's own
key/value projections but a separate softmax, to perception tokens, and the
result enters through a zero-initialised gate. At gate zero the layer
computes exactly what the HF layer computes.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class QFormerMultiHeadAttention(nn.Module):
    """Multi-head attention with BERT's layout (``query``/``key``/``value``).

    Args:
        hidden_size (int): Width of the queries.
        num_heads (int): Number of heads.
        kv_size (int): Width of the keys/values source.
        dropout (float): Attention-probability dropout.
    """

    def __init__(self, hidden_size: int, num_heads: int, kv_size: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f'hidden_size {hidden_size} is not a multiple '
                             f'of num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(kv_size, hidden_size)
        self.value = nn.Linear(kv_size, hidden_size)
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self,
                hidden_states: Tensor,
                memory: Tensor,
                mask: Optional[Tensor] = None) -> Tensor:
        """Attend from ``hidden_states`` (B, N, C) to ``memory`` (B, M, Ck).

        Args:
            hidden_states (Tensor): Queries, (B, N, C).
            memory (Tensor): Keys/values source, (B, M, Ck).
            mask (Tensor, optional): Additive mask broadcastable to
                (B, heads, N, M).

        Returns:
            Tensor: Context, (B, N, C).
        """
        q = self._split(self.query(hidden_states))
        k = self._split(self.key(memory))
        v = self._split(self.value(memory))
        scores = torch.matmul(q, k.transpose(-1, -2))
        scores = scores / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores + mask
        probs = self.dropout(scores.softmax(dim=-1))
        ctx = torch.matmul(probs, v).transpose(1, 2)
        return ctx.reshape(ctx.shape[0], ctx.shape[1], -1)


class QFormerAttention(nn.Module):
    """Attention + output block (HF ``InstructBlipQFormerAttention``)."""

    def __init__(self, hidden_size: int, num_heads: int, kv_size: int,
                 eps: float, attn_dropout: float, dropout: float) -> None:
        super().__init__()
        self.attention = QFormerMultiHeadAttention(hidden_size, num_heads,
                                                   kv_size, attn_dropout)
        self.output = QFormerSelfOutput(hidden_size, eps, dropout)


class QFormerIntermediate(nn.Module):
    """FFN first half: ``act(dense(x))``."""

    def __init__(self, hidden_size: int, intermediate_size: int,
                 act: str) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, intermediate_size)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        x = self.dense(x)
        if self.act == 'gelu':
            return F.gelu(x)
        if self.act == 'relu':
            return F.relu(x)
        raise ValueError(f'unsupported activation {self.act!r}')


class QFormerOutput(nn.Module):
    """FFN second half: ``LayerNorm(dense(x) + residual)``."""

    def __init__(self, hidden_size: int, intermediate_size: int, eps: float,
                 dropout: float) -> None:
        super().__init__()
        self.dense = nn.Linear(intermediate_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class QFormerSelfOutput(QFormerOutput):
    """``LayerNorm(dense(x) + residual)`` as in BERT, after attention."""

    def __init__(self, hidden_size: int, eps: float, dropout: float) -> None:
        super().__init__(hidden_size, hidden_size, eps, dropout)


class QFormerLayer(nn.Module):
    """One Q-Former block: self-attention over [queries | instruction],
    cross-attention of the queries to the memory (every
    ``cross_attention_frequency`` layers), separate query / text FFNs.

    Args:
        hidden_size (int): Query width.
        num_heads (int): Attention heads.
        intermediate_size (int): FFN width.
        memory_size (int): Width of the cross-attention memory.
        has_cross_attention (bool): Whether this layer cross-attends.
        eps (float): LayerNorm epsilon.
        attn_dropout (float): Attention dropout.
        dropout (float): Hidden dropout.
        act (str): FFN activation.
    """

    def __init__(self, hidden_size: int, num_heads: int,
                 intermediate_size: int, memory_size: int,
                 has_cross_attention: bool, eps: float, attn_dropout: float,
                 dropout: float, act: str) -> None:
        super().__init__()
        self.attention = QFormerAttention(hidden_size, num_heads, hidden_size,
                                          eps, attn_dropout, dropout)
        self.has_cross_attention = has_cross_attention
        if has_cross_attention:
            self.crossattention = QFormerAttention(hidden_size, num_heads,
                                                   memory_size, eps,
                                                   attn_dropout, dropout)
            # Zero gate: a pretrained Q-Former is undisturbed at step 0.
            self.perception_gate = nn.Parameter(torch.zeros(1))
        self.intermediate = QFormerIntermediate(hidden_size,
                                                intermediate_size, act)
        self.output = QFormerOutput(hidden_size, intermediate_size, eps,
                                    dropout)
        self.intermediate_query = QFormerIntermediate(hidden_size,
                                                      intermediate_size, act)
        self.output_query = QFormerOutput(hidden_size, intermediate_size,
                                          eps, dropout)

    def forward(self,
                hidden_states: Tensor,
                self_mask: Optional[Tensor],
                memory: Tensor,
                num_queries: int,
                perception: Optional[Tuple[Tensor, Tensor]] = None) -> Tensor:
        """Run the block.

        Args:
            hidden_states (Tensor): [queries | instruction], (B, Nq + T, C).
            self_mask (Tensor, optional): Additive self-attention mask,
                (B, 1, 1, Nq + T).
            memory (Tensor): Cross-attention memory, (B, M, Cm).
            num_queries (int): Nq.
            perception (tuple[Tensor, Tensor], optional): Perception tokens
                (B, P, Cm) and their additive mask (B, 1, 1, P) for the gated
                perception branch.

        Returns:
            Tensor: (B, Nq + T, C).
        """
        sa = self.attention
        attn = sa.output(sa.attention(hidden_states, hidden_states, self_mask),
                         hidden_states)
        query = attn[:, :num_queries]
        if self.has_cross_attention:
            ca = self.crossattention
            ctx = ca.attention(query, memory)
            if perception is not None:
                tokens, mask = perception
                ctx = ctx + self.perception_gate * ca.attention(
                    query, tokens, mask)
            query = ca.output(ctx, query)
        out = self.output_query(self.intermediate_query(query), query)
        if attn.shape[1] > num_queries:
            text = attn[:, num_queries:]
            text = self.output(self.intermediate(text), text)
            out = torch.cat([out, text], dim=1)
        return out


class QFormerEmbeddings(nn.Module):
    """Instruction-token embeddings + the LayerNorm applied to all tokens."""

    def __init__(self, vocab_size: int, hidden_size: int,
                 max_position_embeddings: int, eps: float, dropout: float,
                 pad_token_id: int = 0) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            vocab_size, hidden_size, padding_idx=pad_token_id)
        self.position_embeddings = nn.Embedding(max_position_embeddings,
                                                hidden_size)
        self.layernorm = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query_embeds: Tensor,
                input_ids: Optional[Tensor] = None) -> Tensor:
        """Embed [queries | instruction ids].

        Args:
            query_embeds (Tensor): (B, Nq, C).
            input_ids (Tensor, optional): (B, T).

        Returns:
            Tensor: (B, Nq + T, C).
        """
        x = query_embeds
        if input_ids is not None:
            pos = torch.arange(input_ids.shape[1], device=input_ids.device)
            text = self.word_embeddings(input_ids) + \
                self.position_embeddings(pos)[None]
            x = torch.cat([query_embeds, text], dim=1)
        return self.dropout(self.layernorm(x))


class QFormerEncoder(nn.Module):
    """A stack of :class:`QFormerLayer` (``encoder.layer.{i}``)."""

    def __init__(self, layers) -> None:
        super().__init__()
        self.layer = nn.ModuleList(layers)
