"""BoxTokenEncoder: detections → box tokens (a new modality)."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmmrmllm.registry import MODELS
from mmmrmllm.utils.deprecation import renamed_class


def sine_encode(boxes: Tensor, num_freqs: int) -> Tensor:
    """Fourier features of normalised coordinates.

    Args:
        boxes (Tensor): (..., 4) in [0, 1].
        num_freqs (int): F frequencies, 2**0 ... 2**(F-1) times pi.

    Returns:
        Tensor: (..., 4 * 2 * F).
    """
    freqs = math.pi * 2.0**torch.arange(
        num_freqs, device=boxes.device, dtype=boxes.dtype)
    x = boxes[..., None] * freqs
    return torch.cat([x.sin(), x.cos()], dim=-1).flatten(-2)


@MODELS.register_module()
class BoxTokenEncoder(BaseModule):
    """Embed detections as tokens for the fusion memory and/or the LLM.

    token = MLP(sine(box)) + W_l * E_llm(class name) + MLP(score), then one
    output projection per target. The label term embeds the class *name*
    with the LLM's own token embeddings (mean over its tokens), so class
    names never seen in training still get a meaningful token.

    Args:
        label_dims (int): Width of the LLM's token embeddings.
        embed_dims (int): Internal width.
        out_dims (dict[str, int]): Output width per target, keys among
            ``'fusion'`` and ``'llm'``.
        num_freqs (int): Fourier frequencies per coordinate.
        score_thr (float): Detections below are not embedded.
        max_objects (int): At most this many (highest scores) per image.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 label_dims: int,
                 out_dims: Dict[str, int],
                 embed_dims: int = 256,
                 num_freqs: int = 8,
                 score_thr: float = 0.0,
                 max_objects: int = 10,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        unknown = set(out_dims) - {'fusion', 'llm'}
        if unknown or not out_dims:
            raise ValueError("out_dims keys must be among 'fusion' and 'llm',"
                             f' got {sorted(out_dims)}')
        self.num_freqs = num_freqs
        self.score_thr = score_thr
        self.max_objects = max_objects
        self.box_mlp = nn.Sequential(
            nn.Linear(8 * num_freqs, embed_dims), nn.GELU(),
            nn.Linear(embed_dims, embed_dims))
        self.label_proj = nn.Linear(label_dims, embed_dims)
        self.score_mlp = nn.Sequential(
            nn.Linear(1, embed_dims), nn.GELU(),
            nn.Linear(embed_dims, embed_dims))
        self.norm = nn.LayerNorm(embed_dims)
        self.out_proj = nn.ModuleDict(
            {k: nn.Linear(embed_dims, v)
             for k, v in out_dims.items()})

    @property
    def targets(self) -> Tuple[str, ...]:
        return tuple(self.out_proj)

    def forward(self, boxes: Sequence[Tensor], labels: Sequence[Tensor],
                scores: Sequence[Tensor],
                label_embeds: Tensor) -> Dict[str, Tuple[Tensor, Tensor]]:
        """Embed a batch of detection sets (padded to the longest).

        Per image, detections with score >= ``score_thr`` are kept, at most
        ``max_objects`` of the highest scores.

        Args:
            boxes (Sequence[Tensor]): Per image (K_i, 4), normalised xyxy.
            labels (Sequence[Tensor]): Per image (K_i,) class indices.
            scores (Sequence[Tensor]): Per image (K_i,).
            label_embeds (Tensor): (num_classes, label_dims) class-name
                embeddings.

        Returns:
            dict[str, tuple[Tensor, Tensor]]: per target, tokens (B, K, D)
            and mask (B, K) bool (True = a detection).
        """
        keep = [
            sc.argsort(descending=True)[:self.max_objects] for sc in scores
        ]
        keep = [k[sc[k] >= self.score_thr] for k, sc in zip(keep, scores)]
        boxes = [bx[k] for bx, k in zip(boxes, keep)]
        labels = [lb[k] for lb, k in zip(labels, keep)]
        scores = [sc[k] for sc, k in zip(scores, keep)]
        b = len(boxes)
        k = max([len(x) for x in boxes] + [1])
        dev = label_embeds.device
        box = torch.zeros(b, k, 4, device=dev)
        lab = torch.zeros(b, k, dtype=torch.long, device=dev)
        sco = torch.zeros(b, k, 1, device=dev)
        mask = torch.zeros(b, k, dtype=torch.bool, device=dev)
        for i, (bx, lb, sc) in enumerate(zip(boxes, labels, scores)):
            n = len(bx)
            box[i, :n] = bx.to(dev, torch.float32).clamp(0, 1)
            lab[i, :n] = lb.to(dev)
            sco[i, :n, 0] = sc.to(dev, torch.float32)
            mask[i, :n] = True
        # the class names' embeddings come from the LLM, which may run in
        # another dtype (a bf16 Vicuna) than this encoder
        dtype = next(self.label_proj.parameters()).dtype
        x = self.box_mlp(sine_encode(box, self.num_freqs)) + \
            self.label_proj(label_embeds[lab].to(dtype)) + self.score_mlp(sco)
        x = self.norm(x)
        return {t: (proj(x), mask) for t, proj in self.out_proj.items()}

    @staticmethod
    def split(tokens: Tensor, mask: Tensor) -> List[Tensor]:
        """Valid tokens per image: list of (K_i, D)."""
        return [t[m] for t, m in zip(tokens, mask)]


# the encoder's name before it was named after what it makes
PerceptionEncoder = MODELS.register_module(
    module=renamed_class(BoxTokenEncoder, 'PerceptionEncoder'))
