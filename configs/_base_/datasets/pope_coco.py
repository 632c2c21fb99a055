# POPE (object hallucination, docs/pope.md) on COCO val2017 for the
# paper-scale models: POPE's protocol (500 images with at least three
# classes; three present and three absent classes asked per image for each of
# the random, popular and adversarial samplings; 3000 questions per sampling)
# built from the COCO annotations the project already reads:
#   python tools/dataset_converters/build_pope.py \
#     data/coco/annotations/instances_val2017.json \
#     --out data/coco/pope/val2017_pope.json --num-images 500
# Layout: data/coco/val2017/*.jpg, data/coco/annotations/,
# data/coco/pope/val2017_pope.json. (POPE's released files use val2014 images;
# built from instances_val2014.json with `img='val2014/'` the protocol is the
# same, the drawn images not.) Inherit it after a model config to test on
# POPE.
from mmengine.config import read_base
from mmengine.evaluator import Evaluator

from mmmrmllm.datasets import MRMLLMJsonDataset
from mmmrmllm.evaluation import POPEMetric

with read_base():
    from .coco_vqav2_coda import coco_root, test_pipeline, val_dataloader

pope_dataset = dict(
    type=MRMLLMJsonDataset,
    data_root=coco_root,
    ann_file='pope/val2017_pope.json',
    data_prefix=dict(img='val2017/'),
    test_mode=True,
    pipeline=test_pipeline)
pope_evaluator = dict(type=Evaluator, metrics=[dict(type=POPEMetric)])

test_dataloader = dict(val_dataloader, dataset=pope_dataset)
test_evaluator = pope_evaluator
