"""Common output and freezing behaviour of the MLLM's vision encoders."""
from typing import NamedTuple, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor


class VisualTokens(NamedTuple):
    """Output of a vision encoder.

    Attributes:
        tokens (Tensor): (B, L, C), ``num_prefix`` extra tokens (CLS, ...)
            followed by the ``grid[0] * grid[1]`` patch tokens, row-major.
        num_prefix (int): Leading non-patch tokens.
        grid (tuple[int, int]): Patch grid (gh, gw).
    """
    tokens: Tensor
    num_prefix: int
    grid: Tuple[int, int]


class BaseVisionEncoder(BaseModule):
    """A vision encoder; frozen encoders stay in eval mode.

    Args:
        frozen (bool): Freeze the weights (and keep dropout/BN in eval).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, frozen: bool = True, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.frozen = frozen

    @property
    def embed_dims(self) -> int:
        """Width C of the tokens."""
        raise NotImplementedError

    def init_weights(self) -> None:
        """Keep the weights of construction time: pretrained ones must not
        be re-initialised (a ``Runner`` calls ``init_weights``)."""

    def _freeze(self) -> None:
        if self.frozen:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True):
        super().train(mode and not self.frozen)
        return self

    def encode(self, images: Tensor) -> Tensor:
        """The encoder's tokens (B, prefix + gh * gw, C) of the images."""
        raise NotImplementedError

    def forward(self, images: Tensor) -> VisualTokens:
        """Encode images (without gradient when frozen).

        Args:
            images (Tensor): (B, 3, h, w), normalised.

        Returns:
            VisualTokens: tokens (B, prefix + gh * gw, C); the grid is the
            image size over ``self.patch_size``, the prefix
            ``self.num_prefix`` or else what the grid leaves.
        """
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            tokens = self.encode(images)
        grid = (images.shape[-2] // self.patch_size,
                images.shape[-1] // self.patch_size)
        num_prefix = getattr(self, 'num_prefix', None)
        if num_prefix is None:
            num_prefix = tokens.shape[1] - grid[0] * grid[1]
        return VisualTokens(tokens, num_prefix, grid)
