"""The CornerShapes datasets (COCO boxes + documented-format questions)."""
from mmmrmllm.registry import DATASETS

from ..coco import MRMLLMCocoDataset
from .generator import CLASSES


@DATASETS.register_module()
class CornerShapesDataset(MRMLLMCocoDataset):
    """A CornerShapes split with boxes (``det_train``, ``val``, ``corner``,
    ``novel``), optionally with its question file.

    Objects carry the per-object ``corner`` flag written by the generator
    (True for corner and novel appearances), which :class:`CornerRecall`
    uses for its corner/common split. The VQA-only split ``vqa_train`` is
    read with :class:`MRMLLMJsonDataset` (its question file names the same
    classes, so both concatenate without metainfo clashes).

    Example:
        >>> dict(type='CornerShapesDataset', data_root='data/cornershapes',
        ...      ann_file='annotations/val.json',
        ...      question_file='questions/val.json',
        ...      data_prefix=dict(img=''), pipeline=[...])
    """

    METAINFO = dict(classes=CLASSES)
