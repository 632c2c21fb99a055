import os.path as osp

import mmdet
import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from mmmrmllm import registry

ZOO = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')


def test_registries_are_children_of_mmdet():
    import mmdet.registry as mmdet_registry
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS',
                 'VISUALIZERS', 'DATA_SAMPLERS', 'LOOPS', 'OPTIM_WRAPPERS'):
        ours = getattr(registry, name)
        assert ours.parent is getattr(mmdet_registry, name), name
        assert ours.scope == 'mmmrmllm'


def tiny_dino_cfg():
    """mmdet's own DINO zoo config, shrunk to a CPU-sized model."""
    cfg = Config.fromfile(
        osp.join(ZOO, 'dino', 'dino-4scale_r50_8xb2-12e_coco.py'))
    model = cfg.model
    model.backbone.depth = 18
    model.backbone.init_cfg = None
    model.neck.in_channels = [128, 256, 512]
    model.num_queries = 20
    model.encoder.num_layers = 1
    model.decoder.num_layers = 2
    model.bbox_head.num_classes = 3
    model.dn_cfg.group_cfg.num_dn_queries = 10
    # top-k over num_queries x num_classes
    model.test_cfg.max_per_img = 20
    return model


def _samples(size=64):
    samples = []
    for boxes in ([[4., 6., 30., 40.], [20., 20., 60., 50.]], []):
        sample = DetDataSample(
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                          batch_input_shape=(size, size), pad_shape=(size,
                                                                     size),
                          scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes).reshape(-1, 4),
            labels=torch.arange(len(boxes)))
        samples.append(sample)
    return samples


def test_zoo_dino_builds_in_our_scope_and_trains():
    cfg = tiny_dino_cfg()
    assert cfg.type == 'DINO' and cfg.backbone.type == 'ResNet'
    with DefaultScope.overwrite_default_scope('mmmrmllm'):
        model = registry.MODELS.build(cfg)
    assert type(model) is MMDET_MODELS.get('DINO')
    torch.manual_seed(0)
    # DINO's level_embed is uninitialised memory until init_weights
    model.init_weights()
    images = torch.randn(2, 3, 64, 64)
    losses = model.loss(images, _samples())
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.backbone.parameters()
             if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)

    model.eval()
    with torch.no_grad():
        results = model.predict(images, _samples())
    assert len(results) == 2
    pred = results[0].pred_instances
    assert pred.bboxes.shape[1] == 4
    assert len(pred.scores) == len(pred.labels) == len(pred.bboxes) > 0
    assert pred.labels.max() < 3


def test_unknown_type_in_our_scope_fails():
    with DefaultScope.overwrite_default_scope('mmmrmllm'):
        with pytest.raises(KeyError, match='NoSuchDetector'):
            registry.MODELS.build(dict(type='NoSuchDetector'))


# Run in a fresh interpreter: nothing of mmmrmllm imported but its
# registries, so each build must import its module from the registry's
# ``locations``.
BUILD_BY_NAME = r"""
import sys
from mmengine.registry import DefaultScope
from mmmrmllm import registry as R

SUBPACKAGES = ('mmmrmllm.models', 'mmmrmllm.datasets', 'mmmrmllm.engine',
               'mmmrmllm.evaluation', 'mmmrmllm.visualization',
               'mmmrmllm.text')
assert not [m for m in SUBPACKAGES if m in sys.modules]
DefaultScope.get_instance('fresh', scope_name='mmmrmllm')
built = dict(
    model=R.MODELS.build(dict(type='BoxTokenEncoder', label_dims=4,
                              out_dims=dict(llm=8), embed_dims=8)),
    prompt=R.MODELS.build(dict(type='DetectionPromptGenerator')),
    dataset=R.DATASETS.build(dict(
        type='CornerShapesTextDataset', num_samples=2,
        prompt_generator=dict(type='DetectionPromptGenerator'))),
    transform=R.TRANSFORMS.build(dict(type='PackMRMLLMInputs')),
    metric=R.METRICS.build(dict(type='VQAAccuracy')),
    hook=R.HOOKS.build(dict(type='AnswerLoggingHook')),
    visualizer=R.VISUALIZERS.build(dict(type='MRMLLMVisualizer',
                                        name='fresh')))
for kind, obj in built.items():
    print(kind, type(obj).__module__, type(obj).__name__)
print('item', sorted(built['dataset'][0]))
"""


def _run(code):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=osp.dirname(osp.dirname(__file__)))
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope='module')
def fresh_interpreter():
    """One fresh interpreter (importing mmmrmllm costs ~12 s): first the
    builds by name (nothing imported by hand), then register_all_modules."""
    return _run(BUILD_BY_NAME + REGISTER_ALL).splitlines()


def test_build_by_name_in_a_fresh_interpreter(fresh_interpreter):
    lines = dict(line.split(' ', 1) for line in fresh_interpreter[:-1])
    assert lines == {
        'model': 'mmmrmllm.models.box_tokens.encoder BoxTokenEncoder',
        'prompt': 'mmmrmllm.text.detection_prompt '
                  'DetectionPromptGenerator',
        'dataset': 'mmmrmllm.datasets.cornershapes.text_dataset '
                   'CornerShapesTextDataset',
        'transform': 'mmmrmllm.datasets.transforms.formatting '
                     'PackMRMLLMInputs',
        'metric': 'mmmrmllm.evaluation.metrics.vqa_metric VQAAccuracy',
        'hook': 'mmmrmllm.engine.hooks.answer_logging_hook '
                'AnswerLoggingHook',
        'visualizer': 'mmmrmllm.visualization.local_visualizer '
                      'MRMLLMVisualizer',
        'item': "['data_samples', 'inputs']",
    }


REGISTER_ALL = r"""
from mmmrmllm.registry import all_registries
from mmmrmllm.utils import register_all_modules

register_all_modules()
registered = {}
for reg in all_registries():
    for name, cls in reg.module_dict.items():
        registered[(reg.name, name)] = cls.__module__
        # each module is found in one of its registry's locations
        assert any(cls.__module__ == loc or cls.__module__.startswith(
            loc + '.') for loc in reg._locations), (reg.name, name,
                                                     cls.__module__)
# importing every subpackage by hand registers nothing more
import mmmrmllm.apis, mmmrmllm.datasets, mmmrmllm.engine  # noqa
import mmmrmllm.evaluation, mmmrmllm.models, mmmrmllm.text  # noqa
import mmmrmllm.visualization  # noqa
after = {(reg.name, name) for reg in all_registries()
         for name in reg.module_dict}
assert after == set(registered), sorted(after - set(registered))
print(len(registered), len({reg.name for reg in all_registries()}))
"""


def test_register_all_modules_imports_every_location(fresh_interpreter):
    """``register_all_modules`` relies on the registries' ``locations``:
    they list every subpackage that registers something."""
    num_modules, num_registries = map(int, fresh_interpreter[-1].split())
    assert num_registries == len(registry.all_registries()) >= 19
    assert num_modules >= 25
