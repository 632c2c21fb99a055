"""Vision encoders from ``transformers`` (CLIP, SigLIP, BLIP-2 /
InstructBLIP vision towers)."""
import logging
import os
from typing import Optional

import transformers
from mmengine.logging import print_log
from torch import Tensor

from mmmrmllm.registry import MODELS

from .base import BaseVisionEncoder

# model_type of a (possibly composite) config → vision-tower class.
_VISION_CLASSES = {
    'clip': 'CLIPVisionModel',
    'clip_vision_model': 'CLIPVisionModel',
    'siglip': 'SiglipVisionModel',
    'siglip_vision_model': 'SiglipVisionModel',
    'blip-2': 'Blip2VisionModel',
    'blip_2_vision_model': 'Blip2VisionModel',
    'instructblip': 'InstructBlipVisionModel',
    'instructblip_vision_model': 'InstructBlipVisionModel',
}


@MODELS.register_module()
class HFVisionEncoder(BaseVisionEncoder):
    """A ``transformers`` vision tower.

    Built either from a local ``from_pretrained`` directory (a full
    CLIP/SigLIP/InstructBLIP directory gives its vision tower) or from a
    config dict (random weights, for tests).

    Args:
        name_or_path (str, optional): Local directory.
        model_cfg (dict, optional): ``model_type`` plus config kwargs, e.g.
            ``dict(model_type='clip_vision_model', hidden_size=32, ...)``.
        model_cls (str, optional): ``transformers`` class name; default from
            the config's ``model_type``.
        feature_layer (int): Hidden-state index to return; -1 is the model's
            ``last_hidden_state`` (post-LayerNorm for BLIP towers, as the
            Q-Former expects).
        frozen (bool): Freeze the encoder.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 name_or_path: Optional[str] = None,
                 model_cfg: Optional[dict] = None,
                 model_cls: Optional[str] = None,
                 feature_layer: int = -1,
                 frozen: bool = True,
                 init_cfg=None) -> None:
        super().__init__(frozen=frozen, init_cfg=init_cfg)
        if (name_or_path is None) == (model_cfg is None):
            raise ValueError('give exactly one of name_or_path and model_cfg')
        if model_cfg is not None:
            model_cfg = dict(model_cfg)
            model_type = model_cfg.pop('model_type')
        else:
            if not os.path.isdir(name_or_path):
                raise FileNotFoundError(
                    f'vision encoder directory {name_or_path!r} not found')
            model_type = transformers.AutoConfig.from_pretrained(
                name_or_path).model_type
        cls_name = model_cls or _VISION_CLASSES.get(model_type)
        if cls_name is None:
            raise ValueError(f'no vision tower known for model_type '
                             f'{model_type!r}; pass model_cls')
        cls = getattr(transformers, cls_name)
        if name_or_path is None:
            # Vision-tower configs (e.g. InstructBLIP's) are not all in
            # AutoConfig's mapping: use the class's own config class.
            config = cls.config_class(**model_cfg)
            if getattr(config, 'initializer_range', 1.0) < 1e-6:
                # BLIP-2 / InstructBLIP towers default to 1e-10: meant for
                # loading weights, it starts a tower trained from scratch
                # at zero
                print_log(
                    f'HFVisionEncoder: {model_type} built from model_cfg '
                    f'with initializer_range={config.initializer_range}: '
                    'its weights start at about zero; set '
                    'model_cfg.initializer_range=0.02 to train it from '
                    'scratch (it does not matter when weights are loaded)',
                    logger='current',
                    level=logging.WARNING)
            self.model = cls(config)
        else:
            self.model = cls.from_pretrained(name_or_path)
        self.source = name_or_path
        self.feature_layer = feature_layer
        cfg = self.model.config
        self.patch_size = cfg.patch_size
        # SigLIP has no CLS token; CLIP and BLIP towers have one.
        self.num_prefix = 0 if 'siglip' in cfg.model_type else 1
        self._freeze()

    @property
    def embed_dims(self) -> int:
        return self.model.config.hidden_size

    def encode(self, images: Tensor) -> Tensor:
        out = self.model(
            pixel_values=images,
            output_hidden_states=self.feature_layer != -1)
        return out.last_hidden_state if self.feature_layer == -1 \
            else out.hidden_states[self.feature_layer]
