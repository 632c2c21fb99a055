# Paper-scale data: COCO detection + VQAv2 (COCO images, questions only)
# mixed for training; COCO val2017 (detection + VQA metrics) for validation
# and CODA (corner cases, COCO-style) for testing. Paths are relative to the
# working directory; see docs/data_format.md and tools/dataset_converters.
from mmcv.transforms import LoadImageFromFile
from mmdet.datasets.transforms import (
    LoadAnnotations,
    RandomChoiceResize,
    Resize,
)
from mmengine.dataset import ConcatDataset, DefaultSampler
from mmengine.evaluator import Evaluator

from mmmrmllm.datasets import (
    CODADataset,
    EncoderView,
    MixedRatioSampler,
    MRMLLMCocoDataset,
    PackMRMLLMInputs,
    RandomFlipWithText,
    VQAv2Dataset,
)
from mmmrmllm.evaluation import CornerRecall, MRMLLMCocoMetric, VQAAccuracy

coco_root = 'data/coco/'
vqa_root = 'data/vqav2/'
coda_root = 'data/coda/'
enc_scale = (224, 224)
# detection : VQA images per epoch of the mixed sampler
mix_ratios = [1, 1]

train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations, with_bbox=True),
    # flips only samples without questions, or with recomputable answers
    dict(type=RandomFlipWithText, prob=0.5),
    dict(type=EncoderView, scale=enc_scale),
    dict(
        type=RandomChoiceResize,
        scales=[(480, 1333), (512, 1333), (544, 1333), (576, 1333),
                (608, 1333), (640, 1333), (672, 1333), (704, 1333),
                (736, 1333), (768, 1333), (800, 1333)],
        keep_ratio=True),
    dict(type=PackMRMLLMInputs),
]
test_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations, with_bbox=True),
    dict(type=EncoderView, scale=enc_scale),
    dict(type=Resize, scale=(1333, 800), keep_ratio=True),
    dict(type=PackMRMLLMInputs),
]

coco_train = dict(
    type=MRMLLMCocoDataset,
    data_root=coco_root,
    ann_file='annotations/instances_train2017.json',
    data_prefix=dict(img='train2017/'),
    filter_cfg=dict(filter_empty_gt=False, min_size=32),
    pipeline=train_pipeline)
vqa_train = dict(
    type=VQAv2Dataset,
    data_root=vqa_root,
    data_prefix='train2014',
    question_file='v2_OpenEnded_mscoco_train2014_questions.json',
    ann_file='v2_mscoco_train2014_annotations.json',
    pipeline=train_pipeline)

train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type=MixedRatioSampler, ratios=mix_ratios),
    dataset=dict(type=ConcatDataset, datasets=[coco_train, vqa_train]))

val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(
        type=MRMLLMCocoDataset,
        data_root=coco_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
# the COCO metric reads its split's own annotation file
coco_metric = dict(
    type=MRMLLMCocoMetric,
    ann_file=coco_root + val_dataloader['dataset']['ann_file'],
    metric='bbox')
val_evaluator = dict(
    type=Evaluator, metrics=[coco_metric, dict(type=VQAAccuracy)])

# CODA corner cases (tools/dataset_converters/coda_to_coco.py writes the
# per-object `corner` flag that CornerRecall splits on).
test_dataloader = dict(
    val_dataloader,
    dataset=dict(
        val_dataloader['dataset'],
        type=CODADataset,
        data_root=coda_root,
        ann_file='annotations/coda_coco.json',
        data_prefix=dict(img='images/')))
test_evaluator = dict(
    type=Evaluator,
    metrics=[
        dict(coco_metric,
             ann_file=coda_root + test_dataloader['dataset']['ann_file']),
        dict(type=CornerRecall),
    ])
