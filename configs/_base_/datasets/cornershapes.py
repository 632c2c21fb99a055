# CornerShapes (generated: tools/misc/generate_cornershapes.py). Training
# mixes det_train (boxes and questions, common appearance) with vqa_train
# (questions only, has_det_ann=False, common + corner appearance); val and
# corner are scored for detection (COCO mAP, corner/common recall) and VQA
# together.
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations, Resize
from mmengine.dataset import ConcatDataset, DefaultSampler
from mmengine.evaluator import Evaluator

from mmmrmllm.datasets import (
    CornerShapesDataset,
    EncoderView,
    MixedRatioSampler,
    MRMLLMJsonDataset,
    PackMRMLLMInputs,
)
from mmmrmllm.datasets.cornershapes import CLASSES
from mmmrmllm.evaluation import CornerRecall, MRMLLMCocoMetric, VQAAccuracy

data_root = 'data/cornershapes/'
# The classes, defined once by the package that generates the data; a config
# that picks this dataset sizes its detector's head with `num_classes` and
# names the model's classes with `class_names`. (CLASSES is imported lazily,
# like every name in a config: `.build()` makes it the tuple itself.)
class_names = list(CLASSES.build())
num_classes = len(class_names)
det_scale = (128, 128)
enc_scale = (96, 96)
# det_train : vqa_train images per epoch of the mixed sampler
mix_ratios = [1, 1]

train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations, with_bbox=True),
    dict(type=EncoderView, scale=enc_scale),
    dict(type=Resize, scale=det_scale, keep_ratio=True),
    dict(type=PackMRMLLMInputs),
]
test_pipeline = train_pipeline

# every split: a JSON file (+ its questions) under data_root, images there
split = dict(type=CornerShapesDataset, data_root=data_root,
             data_prefix=dict(img=''))
det_train = dict(
    split,
    ann_file='annotations/det_train.json',
    question_file='questions/det_train.json',
    filter_cfg=dict(filter_empty_gt=False),
    pipeline=train_pipeline)
vqa_train = dict(
    split,
    type=MRMLLMJsonDataset,
    ann_file='questions/vqa_train.json',
    pipeline=train_pipeline)

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type=MixedRatioSampler, ratios=mix_ratios),
    dataset=dict(type=ConcatDataset, datasets=[det_train, vqa_train]))

val_dataset = dict(
    split,
    ann_file='annotations/val.json',
    question_file='questions/val.json',
    test_mode=True,
    pipeline=test_pipeline)
# The corner-case split: `tools/test.py ... --split corner` or the demo swap
# it in for val (see `corner_dataset` / `corner_evaluator`).
corner_dataset = dict(
    val_dataset,
    ann_file='annotations/corner.json',
    question_file='questions/corner.json')
# val's images and questions in phrasings training never uses
# (`tools/test.py ... --split val_phrasing`), scored with `val_evaluator`
# (the same images and boxes)
val_phrasing_dataset = dict(
    val_dataset, question_file='questions/val_phrasing.json')

# the COCO metric reads its split's own annotation file
val_evaluator = dict(
    type=Evaluator,
    metrics=[
        dict(
            type=MRMLLMCocoMetric,
            ann_file=data_root + val_dataset['ann_file'],
            metric='bbox'),
        dict(type=CornerRecall),
        dict(type=VQAAccuracy),
    ])
corner_evaluator = dict(
    val_evaluator,
    metrics=[
        dict(val_evaluator['metrics'][0],
             ann_file=data_root + corner_dataset['ann_file'])
    ] + val_evaluator['metrics'][1:])

val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=val_dataset)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
