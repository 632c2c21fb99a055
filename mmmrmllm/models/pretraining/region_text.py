"""Region-text contrastive pre-training of the vision tower.

The anchors give their teacher region-level knowledge with a dense, direct
signal (RegionCLIP's region-text contrast, GLIP / Kosmos-2's grounded
phrases): an object's visual features, pooled inside its box, must pick
its phrase (``<colour> <shape>``) among the phrases of the batch. Trained
through question answering alone, the tower learns shapes only as far as
the LM loss needs them, and corner looks (textures, odd colours and sizes)
hardly at all (docs/main_job.md, the knowledge probe). The projections and
temperature here exist only for this loss: they are not part of an
exported InstructBLIP directory, only the tower they shape is.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmmrmllm.registry import MODELS


def _span(lo: float, hi: float, n: int) -> Tuple[int, int]:
    start = min(max(int(math.floor(lo)), 0), n - 1)
    return start, min(max(int(math.ceil(hi)), start + 1), n)


def box_pool_weights(boxes: Tensor, grid: Tuple[int, int],
                     scale: Tuple[float, float]) -> Tensor:
    """Averaging weights of boxes over a patch grid.

    Every cell a box touches (``floor(x1 * sx)`` to ``ceil(x2 * sx)``,
    clipped to the grid, at least one cell) gets an equal share: the
    pooling of the knowledge probe
    (:func:`mmmrmllm.analysis.knowledge_probe.pool_boxes`), as a matrix so
    that it is one differentiable product with the tokens.

    Args:
        boxes (Tensor): (N, 4) xyxy in image pixels.
        grid (tuple[int, int]): Patch grid (gh, gw).
        scale (tuple[float, float]): Grid cells per image pixel (x, y).

    Returns:
        Tensor: (N, gh * gw), rows summing to 1.
    """
    gh, gw = grid
    w = boxes.new_zeros(len(boxes), gh, gw)
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        c0, c1 = _span(x1 * scale[0], x2 * scale[0], gw)
        r0, r1 = _span(y1 * scale[1], y2 * scale[1], gh)
        w[i, r0:r1, c0:c1] = 1.0 / ((r1 - r0) * (c1 - c0))
    return w.flatten(1)


@MODELS.register_module()
class RegionTextContrastive(BaseModule):
    """Region-phrase contrast over a batch (RegionCLIP-style).

    Each region's pooled visual features and each phrase's text embedding
    are projected into a shared space and L2-normalised; a region's logits
    are its cosine similarities to the batch's distinct phrases, scaled by
    a learnable inverse temperature (CLIP's), and its target is its own
    phrase. Distinct phrases, not regions, are the classes: many regions of
    a batch share a phrase (``red circle``), and those are positives of
    one another, not negatives.

    Args:
        vision_dims (int): Width of the vision tower's tokens.
        text_dims (int): Width of the phrase embeddings (the LLM's).
        embed_dims (int): Width of the shared space.
        init_temperature (float): Initial temperature (CLIP: 0.07).
        max_logit_scale (float): Cap of the inverse temperature (CLIP:
            100).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 vision_dims: int,
                 text_dims: int,
                 embed_dims: int = 128,
                 init_temperature: float = 0.07,
                 max_logit_scale: float = 100.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init_temperature <= 0:
            raise ValueError('init_temperature must be positive, got '
                             f'{init_temperature}')
        self.region_proj = nn.Linear(vision_dims, embed_dims)
        self.text_proj = nn.Linear(text_dims, embed_dims)
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(1.0 / init_temperature)))
        self.max_logit_scale = max_logit_scale

    def forward(self, regions: Tensor, phrase_ids: Tensor,
                phrases: Tensor) -> Tensor:
        """The loss.

        Args:
            regions (Tensor): (N, vision_dims) pooled region features.
            phrase_ids (Tensor): (N,) each region's row of ``phrases``.
            phrases (Tensor): (P, text_dims) embeddings of the distinct
                phrases.

        Returns:
            Tensor: Mean cross-entropy over the regions (a zero tied to
            the parameters when there is no region).
        """
        if len(regions) == 0:
            return sum(p.sum() * 0 for p in self.parameters()) + \
                regions.sum() * 0
        r = F.normalize(self.region_proj(regions), dim=-1)
        t = F.normalize(self.text_proj(phrases.to(r.dtype)), dim=-1)
        scale = self.logit_scale.clamp(max=math.log(self.max_logit_scale))
        return F.cross_entropy(scale.exp() * r @ t.t(), phrase_ids)


def region_batch(tokens: Tensor, num_prefix: int, grid: Tuple[int, int],
                 boxes: Sequence[Tensor],
                 scales: Sequence[Tuple[float, float]]) -> Tensor:
    """Patch tokens pooled inside each image's boxes.

    Args:
        tokens (Tensor): (B, L, C) the tower's output.
        num_prefix (int): Leading non-patch tokens (CLS).
        grid (tuple[int, int]): Patch grid (gh, gw).
        boxes (Sequence[Tensor]): Per image (N_i, 4) xyxy image pixels.
        scales (Sequence[tuple]): Per image grid cells per pixel (x, y).

    Returns:
        Tensor: (sum N_i, C).
    """
    patches = tokens[:, num_prefix:]
    out = [box_pool_weights(b.to(patches.dtype), grid, s).to(
        patches.device) @ patches[i] for i, (b, s) in enumerate(
            zip(boxes, scales)) if len(b)]
    return torch.cat(out) if out else patches.new_zeros(0,
                                                        patches.shape[-1])


def grounded_regions(tokens: Tensor, num_prefix: int, grid: Tuple[int, int],
                     enc_hw: Tuple[int, int], samples: Sequence
                     ) -> Optional[Tuple[Tensor, Tensor, List[str]]]:
    """A batch's grounded phrases (metainfo ``regions``: ``bboxes`` in
    original-image pixels, ``phrases``), pooled from the tower's tokens.

    Args:
        tokens (Tensor): (B, L, C) the tower's output.
        num_prefix (int): Leading non-patch tokens (CLS).
        grid (tuple[int, int]): Patch grid (gh, gw).
        enc_hw (tuple[int, int]): The encoder input's (h, w).
        samples (Sequence): The batch's data samples.

    Returns:
        tuple or None: (N, C) region features, (N,) each region's row of
        the distinct phrases, the distinct phrases (sorted); None when no
        sample carries a phrase.
    """
    enc_h, enc_w = enc_hw
    gh, gw = grid
    boxes, scales, names = [], [], []
    for s in samples:
        reg = s.metainfo.get('regions')
        if not reg or not len(reg['phrases']):
            boxes.append(tokens.new_zeros(0, 4))
            scales.append((1.0, 1.0))
            continue
        oh, ow = s.metainfo['ori_shape'][:2]
        vh, vw = s.metainfo.get('enc_valid_shape', (enc_h, enc_w))[:2]
        boxes.append(torch.as_tensor(reg['bboxes'],
                                     dtype=torch.float32).reshape(-1, 4))
        scales.append((gw / enc_w * vw / ow, gh / enc_h * vh / oh))
        names += list(reg['phrases'])
    if not names:
        return None
    regions = region_batch(tokens, num_prefix, grid, boxes, scales)
    distinct = sorted(set(names))
    row = {n: i for i, n in enumerate(distinct)}
    ids = torch.tensor([row[n] for n in names], device=regions.device)
    return regions, ids, distinct
