"""The encoder view: the MLLM image encoder's copy of the image."""
from typing import Tuple

import mmcv
from mmcv.transforms import BaseTransform

from mmmrmllm.registry import TRANSFORMS

from ..base import TextGeometryError, describe_record
from .text_geometry import text_geometry_violation


@TRANSFORMS.register_module()
class EncoderView(BaseTransform):
    """Copy the current image, resized for the vision encoder.

    Place it after the geometric transforms shared by both views (flip)
    and before the detector's ``Resize``, so both views show the same
    region. Adds ``enc_img`` (``(h, w, 3)`` uint8, same colour order as
    ``img``) and ``enc_shape``; with ``keep_ratio`` the image is padded at
    the bottom/right and ``enc_valid_shape`` gives the image part.

    Args:
        scale (tuple[int, int]): Encoder input size ``(w, h)``.
            Defaults to ``(224, 224)``.
        keep_ratio (bool): Keep the aspect ratio and pad. Defaults to False.
        interpolation (str): Defaults to ``'bicubic'``, as CLIP/EVA.
        pad_val (int): Padding value with ``keep_ratio``. Defaults to 0.
        backend (str): Image resize backend. Defaults to ``'pillow'``:
            Pillow's resize, as CLIP's and InstructBLIP's image processors
            (``BlipImageProcessor``) resize, so an exported MLLM gets the
            very pixels under ``transformers`` (OpenCV's bicubic does not
            smooth when shrinking: up to 67 of 255 apart at the edges of a
            128 → 64 px CornerShapes image).

    Raises:
        TextGeometryError: If a sample with questions was flipped or cropped
            without recomputing its answers.
    """

    def __init__(self,
                 scale: Tuple[int, int] = (224, 224),
                 keep_ratio: bool = False,
                 interpolation: str = 'bicubic',
                 pad_val: int = 0,
                 backend: str = 'pillow') -> None:
        self.scale = tuple(scale)
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation
        self.pad_val = pad_val
        self.backend = backend

    def transform(self, results: dict) -> dict:
        violation = text_geometry_violation(results)
        if violation:
            raise TextGeometryError(
                f'{describe_record(results)}: {violation}')
        img = results['img']
        if self.keep_ratio:
            enc = mmcv.imrescale(
                img,
                self.scale,
                interpolation=self.interpolation,
                backend=self.backend)
            results['enc_valid_shape'] = enc.shape[:2]
            enc = mmcv.impad(
                enc,
                shape=(self.scale[1], self.scale[0]),
                pad_val=self.pad_val)
        else:
            enc = mmcv.imresize(
                img,
                self.scale,
                interpolation=self.interpolation,
                backend=self.backend)
            results['enc_valid_shape'] = enc.shape[:2]
        results['enc_img'] = enc
        results['enc_shape'] = enc.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'keep_ratio={self.keep_ratio}, '
                f'interpolation={self.interpolation!r}, '
                f'backend={self.backend!r})')
