# POPE (object hallucination, docs/pope.md) on CornerShapes: yes/no probes
# about the classes of a split's images, with random, popular and
# adversarial negatives, scored per sampling by POPEMetric. Build the probes
# first (three classes: one present + one absent per image and sampling;
# images that have every class are skipped; phrased as CornerShapes' own
# existence questions, which the tiny models know, docs/pope.md):
#   for s in val corner novel; do
#     python tools/dataset_converters/build_pope.py \
#       data/cornershapes/annotations/$s.json \
#       --out data/cornershapes/pope/$s.json --min-classes 1 \
#       --template 'Is there a {}?'; done
# Inherit it after a model config to test on POPE (val; the other splits are
# `pope_corner_dataset` / `pope_novel_dataset`, or on the command line
# `--cfg-options test_dataloader.dataset.ann_file=pope/corner.json`).
from mmengine.config import read_base
from mmengine.dataset import DefaultSampler
from mmengine.evaluator import Evaluator

from mmmrmllm.datasets import MRMLLMJsonDataset
from mmmrmllm.evaluation import POPEMetric

with read_base():
    from .cornershapes import data_root, test_pipeline

# questions only: the images' boxes are not evaluated here
pope_val_dataset = dict(
    type=MRMLLMJsonDataset,
    data_root=data_root,
    ann_file='pope/val.json',
    data_prefix=dict(img=''),
    test_mode=True,
    pipeline=test_pipeline)
pope_corner_dataset = dict(pope_val_dataset, ann_file='pope/corner.json')
pope_novel_dataset = dict(pope_val_dataset, ann_file='pope/novel.json')
pope_evaluator = dict(type=Evaluator, metrics=[dict(type=POPEMetric)])

test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=pope_val_dataset)
test_evaluator = pope_evaluator
