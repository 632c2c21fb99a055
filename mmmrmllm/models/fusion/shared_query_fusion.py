"""SharedQueryFusion: the paper's shared query fusion (Eq. 1)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmmrmllm.registry import MODELS
from mmmrmllm.utils.deprecation import warn_renamed

from .base import BaseFusion
from .qformer_layers import QFormerEmbeddings, QFormerEncoder, QFormerLayer


def resample_to_grid(feats: Sequence[Tensor], valid_hw: Sequence[Tuple[int,
                                                                       int]],
                     pad_hw: Tuple[int, int], grid: Tuple[int,
                                                          int]) -> Tensor:
    """Resample neck levels onto the encoder's patch grid.

    Each level is cropped to the image's valid (unpadded) region, resampled
    bilinearly to ``grid`` and the levels are averaged (ARCHITECTURE.md,
    "sum fusion geometry").

    Args:
        feats (Sequence[Tensor]): Levels, each (B, C, Hl, Wl).
        valid_hw (Sequence[tuple[int, int]]): Per-sample (h, w) of the image
            inside the padded detector input.
        pad_hw (tuple[int, int]): Padded detector input size (Hp, Wp).
        grid (tuple[int, int]): Encoder patch grid (gh, gw).

    Returns:
        Tensor: (B, gh * gw, C).
    """
    out = []
    for i, (h, w) in enumerate(valid_hw):
        acc = 0
        for level in feats:
            lh, lw = level.shape[-2:]
            ch = max(1, min(lh, round(lh * h / pad_hw[0])))
            cw = max(1, min(lw, round(lw * w / pad_hw[1])))
            crop = level[i:i + 1, :, :ch, :cw]
            acc = acc + F.interpolate(
                crop, size=grid, mode='bilinear', align_corners=False)
        out.append(acc / len(feats))
    return torch.cat(out).flatten(2).transpose(1, 2)


def _perception_branch(tokens: List[Tensor], masks: List[Tensor]
                       ) -> Optional[Tuple[Tensor, Tensor]]:
    """The memory of the gated perception branch of the cross-attention.

    Args:
        tokens (list[Tensor]): Token groups, each (B, Ni, C).
        masks (list[Tensor]): Their (B, Ni) bool masks, True = valid.

    Returns:
        tuple[Tensor, Tensor] | None: Tokens (B, N + 1, C) and the additive
        attention mask (B, 1, 1, N + 1); None without tokens.
    """
    if not tokens:
        return None
    mask = torch.cat(masks, dim=1)
    tokens = torch.cat(tokens, dim=1)
    # A sample with no valid token gets one zero token, so its
    # softmax stays finite (its branch output is then zero).
    empty = ~mask.any(dim=1)
    mask = torch.cat([mask, empty[:, None]], dim=1)
    tokens = F.pad(tokens, (0, 0, 0, 1))
    additive = (~mask).to(tokens.dtype) * -10000.0
    return tokens, additive[:, None, None, :]


# SharedQueryFusion argument -> HF Q-Former config key (BLIP-2 /
# InstructBLIP): one table for exporting and for reading a directory
QFORMER_KEYS = (('vocab_size', 'vocab_size'), ('hidden_size', 'hidden_size'),
                ('num_layers', 'num_hidden_layers'),
                ('num_heads', 'num_attention_heads'),
                ('intermediate_size', 'intermediate_size'),
                ('hidden_act', 'hidden_act'),
                ('dropout', 'hidden_dropout_prob'),
                ('attn_dropout', 'attention_probs_dropout_prob'),
                ('max_position_embeddings', 'max_position_embeddings'),
                ('layer_norm_eps', 'layer_norm_eps'),
                ('pad_token_id', 'pad_token_id'),
                ('cross_attention_frequency', 'cross_attention_frequency'))

@MODELS.register_module()
class SharedQueryFusion(BaseFusion):
    """Learned queries fused with the MLLM's visual tokens and the
    detector's features (MR-MLLM's shared query fusion).

    One block is ``H(n+1) = L(H(n), V_proj(Vf_m) + g * P_proj(Vf_p))``: a
    Q-Former layer (HF BLIP-2 / InstructBLIP layout, so those weights load
    one-to-one) whose cross-attention memory carries both streams.

    - ``perception_merge='sum'`` (Eq. 1): detector levels are resampled to
      the encoder's patch grid (:func:`resample_to_grid`), projected by
      ``p_proj`` and added, scaled by the zero-initialised ``p_gate``, to
      the patch tokens; prefix (CLS) tokens get no perception term.
    - ``perception_merge='concat'``: the same resampled tokens form a
      separate memory read by a gated perception branch of each
      cross-attention (shared key/value weights, own softmax, zero gate), so
      they take no softmax mass from the visual tokens at step 0.

    Perception tokens (embedded detections) always go to the gated branch.
    Optional instruction tokens join the self-attention (InstructBLIP style).

    Args:
        vision_dims (int): Width of the encoder tokens ``Vf_m``.
        det_feat_dims (int | Sequence[int], optional): Channels of the
            detector neck ``Vf_p``, one per level where the levels differ
            (each level then gets its own 1x1 projection). None: no
            detector features.
        num_queries (int): Number of shared queries.
        hidden_size (int): Query width.
        num_layers (int): Number of blocks.
        num_heads (int): Attention heads.
        intermediate_size (int): FFN width.
        cross_attention_frequency (int): Cross-attend every n-th layer.
        memory_dims (int, optional): Width of the memory; defaults to
            ``vision_dims`` (then ``v_proj`` is the identity, as in HF).
        perception_merge (str): How the detector features join the
            memory: ``'sum'`` or ``'concat'``.
        vocab_size (int): Instruction vocabulary (BERT's is 30522).
        max_position_embeddings (int): Instruction positions.
        layer_norm_eps (float): LayerNorm epsilon.
        dropout (float): Hidden dropout.
        attn_dropout (float): Attention dropout.
        hidden_act (str): FFN activation.
        pad_token_id (int): Instruction padding id.
        p_gate_init (float): Start value of the perception gate ``g``
            (``perception_merge='sum'``); 0 (default) starts with the
            perception term switched off.
        init_cfg (dict, optional): Initialisation config.
        perception_dims: Deprecated name of ``det_feat_dims``.
    """

    def __init__(self,
                 vision_dims: int,
                 det_feat_dims: Optional[int] = None,
                 num_queries: int = 32,
                 hidden_size: int = 768,
                 num_layers: int = 12,
                 num_heads: int = 12,
                 intermediate_size: int = 3072,
                 cross_attention_frequency: int = 1,
                 memory_dims: Optional[int] = None,
                 perception_merge: str = 'sum',
                 vocab_size: int = 30523,
                 max_position_embeddings: int = 512,
                 layer_norm_eps: float = 1e-12,
                 dropout: float = 0.1,
                 attn_dropout: float = 0.1,
                 hidden_act: str = 'gelu',
                 pad_token_id: int = 0,
                 p_gate_init: float = 0.0,
                 init_cfg: Optional[dict] = None,
                 perception_dims: Optional[int] = None) -> None:
        if perception_dims is not None:
            warn_renamed('SharedQueryFusion(perception_dims=...)',
                         'det_feat_dims')
            det_feat_dims = perception_dims
        super().__init__(vision_dims, det_feat_dims, num_queries,
                         hidden_size, memory_dims, init_cfg)
        if perception_merge not in ('sum', 'concat'):
            raise ValueError("perception_merge must be 'sum' or 'concat', "
                             f'got {perception_merge!r}')
        self.perception_merge = perception_merge
        # the Q-Former's own settings under HF's InstructBlipQFormerConfig
        # names (what an exported InstructBLIP directory records)
        args = dict(vocab_size=vocab_size, hidden_size=hidden_size,
                    num_layers=num_layers, num_heads=num_heads,
                    intermediate_size=intermediate_size,
                    hidden_act=hidden_act, dropout=dropout,
                    attn_dropout=attn_dropout,
                    max_position_embeddings=max_position_embeddings,
                    layer_norm_eps=layer_norm_eps, pad_token_id=pad_token_id,
                    cross_attention_frequency=cross_attention_frequency)
        self.qformer_config = {hf: args[ours] for ours, hf in QFORMER_KEYS}
        self.qformer_config['encoder_hidden_size'] = memory_dims or \
            vision_dims
        self.query_tokens = nn.Parameter(
            torch.zeros(1, num_queries, hidden_size))
        nn.init.normal_(self.query_tokens, std=0.02)
        self.embeddings = QFormerEmbeddings(vocab_size, hidden_size,
                                            max_position_embeddings,
                                            layer_norm_eps, dropout,
                                            pad_token_id)
        self.encoder = QFormerEncoder([
            QFormerLayer(hidden_size, num_heads, intermediate_size,
                         self.memory_dims,
                         i % cross_attention_frequency == 0, layer_norm_eps,
                         attn_dropout, dropout, hidden_act)
            for i in range(num_layers)
        ])
        self.v_proj = nn.Identity() if self.memory_dims == vision_dims \
            else nn.Linear(vision_dims, self.memory_dims)
        self.p_level_proj = None
        if det_feat_dims is not None:
            widths = list(det_feat_dims) if isinstance(
                det_feat_dims, (list, tuple)) else [det_feat_dims]
            if len(set(widths)) == 1:
                self.p_proj = nn.Sequential(
                    nn.Linear(widths[0], self.memory_dims),
                    nn.LayerNorm(self.memory_dims))
            else:
                # levels of different widths (YOLOv3, SSD, ...): one 1x1
                # projection per level to the memory width, as mmdet's
                # ChannelMapper does, then the shared LayerNorm
                self.p_level_proj = nn.ModuleList(
                    nn.Conv2d(c, self.memory_dims, 1) for c in widths)
                self.p_proj = nn.LayerNorm(self.memory_dims)
            if perception_merge == 'sum':
                # Eq. 1's perception term starts switched off (zero gate);
                # in 'concat' mode the layers' perception gates do this.
                self.p_gate = nn.Parameter(torch.full((1, ), p_gate_init))

    def _project_feats(self, perception_feats: Sequence[Tensor],
                       valid_hw: List[Tuple[int, int]],
                       pad_hw: Tuple[int, int],
                       grid: Tuple[int, int]) -> Tensor:
        """Detector levels on the patch grid, projected to the memory width.

        Returns:
            Tensor: (B, gh * gw, memory_dims).
        """
        if self.p_level_proj is not None:
            if len(perception_feats) != len(self.p_level_proj):
                raise ValueError(
                    f'{len(perception_feats)} neck levels, but the '
                    f'fusion was built for det_feat_dims='
                    f'{list(self.det_feat_dims)}')
            perception_feats = [
                proj(f) for proj, f in zip(self.p_level_proj,
                                           perception_feats)
            ]
        p = resample_to_grid(perception_feats, valid_hw, pad_hw, grid)
        return self.p_proj(p)

    def gate_parameters(self) -> Dict[str, nn.Parameter]:
        """``p_gate`` (Eq. 1, ``'sum'`` with detector features) and each
        cross-attention layer's ``perception_gate``."""
        return {
            n: p
            for n, p in self.named_parameters()
            if n == 'p_gate' or n.endswith('.perception_gate')
        }

    def memory(self,
               visual_tokens: Tensor,
               num_prefix_tokens: int = 0,
               grid: Optional[Tuple[int, int]] = None,
               perception_feats: Optional[Sequence[Tensor]] = None,
               valid_hw: Optional[List[Tuple[int, int]]] = None,
               pad_hw: Optional[Tuple[int, int]] = None,
               perception_tokens: Optional[Tensor] = None,
               perception_mask: Optional[Tensor] = None
               ) -> Tuple[Tensor, Optional[Tuple[Tensor, Tensor]]]:
        """What the queries attend to, which depends on the image alone
        (several questions about one image compute it once): the
        cross-attention memory (B, L, C) and the perception branch
        (tokens, additive mask) or None. Arguments as
        :meth:`BaseFusion.forward`.
        """
        memory = self.v_proj(visual_tokens)
        branch_tokens, branch_masks = [], []
        if perception_feats is not None and self.det_feat_dims is not None:
            p = self._project_feats(perception_feats, valid_hw, pad_hw, grid)
            if self.perception_merge == 'sum':
                p = F.pad(p, (0, 0, num_prefix_tokens, 0))
                memory = memory + self.p_gate * p
            else:
                branch_tokens.append(p)
                branch_masks.append(
                    p.new_ones(p.shape[:2], dtype=torch.bool))
        if perception_tokens is not None:
            branch_tokens.append(perception_tokens)
            if perception_mask is None:
                perception_mask = perception_tokens.new_ones(
                    perception_tokens.shape[:2], dtype=torch.bool)
            branch_masks.append(perception_mask)
        perception = _perception_branch(branch_tokens, branch_masks)
        return memory, perception

    def query(self,
              memory: Tensor,
              perception: Optional[Tuple[Tensor, Tensor]] = None,
              instruction_ids: Optional[Tensor] = None,
              instruction_mask: Optional[Tensor] = None) -> Tensor:
        """The shared queries (B, Nq, hidden_size) over a :meth:`memory`,
        with the instruction ids and mask of :meth:`forward`."""
        b = memory.shape[0]
        queries = self.query_tokens.expand(b, -1, -1)
        hidden = self.embeddings(queries, instruction_ids)
        self_mask = None
        if instruction_ids is not None and instruction_mask is not None:
            full = torch.cat([
                instruction_mask.new_ones(b, self.num_queries),
                instruction_mask
            ], dim=1)
            self_mask = (1.0 - full[:, None, None, :].to(hidden.dtype)) * \
                -10000.0
        for layer in self.encoder.layer:
            hidden = layer(hidden, self_mask, memory, self.num_queries,
                           perception)
        return hidden[:, :self.num_queries]
