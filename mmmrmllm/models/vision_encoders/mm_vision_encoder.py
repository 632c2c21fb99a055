"""Vision encoders from OpenMMLab backbones (mmpretrain ViT/EVA/CLIP)."""
from typing import Optional

from torch import Tensor

from mmmrmllm.registry import MODELS

from .base import BaseVisionEncoder


@MODELS.register_module()
class MMVisionEncoder(BaseVisionEncoder):
    """An mmpretrain ViT-style backbone returning raw tokens.

    Args:
        backbone (dict): Backbone config, e.g.
            ``dict(type='mmpretrain.VisionTransformer', arch='b',
            img_size=224, patch_size=16, out_type='raw')``. ``out_type`` is
            forced to ``'raw'``.
        checkpoint (str, optional): Local checkpoint of the backbone.
        frozen (bool): Freeze the encoder.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 checkpoint: Optional[str] = None,
                 frozen: bool = True,
                 init_cfg=None) -> None:
        super().__init__(frozen=frozen, init_cfg=init_cfg)
        backbone = dict(backbone, out_type='raw')
        self.backbone = MODELS.build(backbone)
        self.backbone.init_weights()
        self.source = checkpoint
        if checkpoint is not None:
            from mmengine.runner import load_checkpoint
            load_checkpoint(self.backbone, checkpoint, map_location='cpu')
        self.patch_size = self.backbone.patch_embed.projection.stride[0]
        self._freeze()

    @property
    def embed_dims(self) -> int:
        return self.backbone.embed_dims

    def encode(self, images: Tensor) -> Tensor:
        return self.backbone(images)[-1]
