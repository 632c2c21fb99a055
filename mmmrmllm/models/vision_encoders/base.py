"""Common output and freezing behaviour of the MLLM's vision encoders."""
from typing import NamedTuple, Tuple

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

    def forward(self, images: Tensor) -> VisualTokens:
        """Encode images (B, 3, h, w) → :class:`VisualTokens`."""
        raise NotImplementedError
