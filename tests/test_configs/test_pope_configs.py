"""The POPE configs: their test sets are the probes, scored by POPEMetric,
and the tiny model's POPE config trains exactly as the joint config."""
import os.path as osp

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_', 'datasets')
TINY = osp.join(ROOT, 'configs', 'mrmllm',
                'mrmllm_dino_r18_llama_4l_1xb8_250i_cornershapes.py')
TINY_POPE = TINY.replace('_cornershapes.py', '_pope_cornershapes.py')


def metric_names(evaluator):
    return [m['type'].__name__ for m in evaluator['metrics']]


def test_cornershapes_and_coco_bases():
    cs = Config.fromfile(osp.join(BASE, 'pope_cornershapes.py'))
    assert [cs[f'pope_{s}_dataset'].ann_file
            for s in ('val', 'corner', 'novel')] == [
                'pope/val.json', 'pope/corner.json', 'pope/novel.json']
    assert cs.test_dataloader.dataset.data_root == 'data/cornershapes/'
    assert metric_names(cs.test_evaluator) == ['POPEMetric']
    coco = Config.fromfile(osp.join(BASE, 'pope_coco.py'))
    dataset = coco.test_dataloader.dataset
    assert (dataset.data_root, dataset.ann_file, dataset.data_prefix.img) \
        == ('data/coco/', 'pope/val2017_pope.json', 'val2017/')
    assert metric_names(coco.test_evaluator) == ['POPEMetric']


def test_tiny_model_on_pope():
    joint, pope = Config.fromfile(TINY), Config.fromfile(TINY_POPE)
    assert pope.test_dataloader.dataset.ann_file == 'pope/val.json'
    assert pope.test_dataloader.dataset.type.__name__ == 'MRMLLMJsonDataset'
    assert metric_names(pope.test_evaluator) == ['POPEMetric']
    for key in ('model', 'train_dataloader', 'val_dataloader',
                'val_evaluator', 'optim_wrapper', 'train_cfg'):
        assert pope[key] == joint[key], key
