"""Registries of mmmrmllm.

Each registry is a child of mmdet's registry of the same kind (which in turn
is a child of MMEngine's root), so a plain mmdet detector dict with string
types (``type='ResNet'``) builds inside an MR-MLLM config under
``default_scope='mmmrmllm'``. mmpretrain components are reachable as
``mmpretrain.X`` through the shared root.

Each registry's ``locations`` name the subpackages whose import registers
its modules: building by name imports them on first use, and
:func:`mmmrmllm.utils.register_all_modules` imports the locations of every
registry here (:func:`all_registries`).
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
)
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

RUNNERS = Registry(
    'runner', parent=MMDET_RUNNERS, locations=['mmmrmllm.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor',
    parent=MMDET_RUNNER_CONSTRUCTORS,
    locations=['mmmrmllm.engine'])
LOOPS = Registry('loop', parent=MMDET_LOOPS, locations=['mmmrmllm.engine'])
HOOKS = Registry('hook', parent=MMDET_HOOKS, locations=['mmmrmllm.engine'])

DATASETS = Registry(
    'dataset', parent=MMDET_DATASETS, locations=['mmmrmllm.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMDET_DATA_SAMPLERS,
    locations=['mmmrmllm.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMDET_TRANSFORMS, locations=['mmmrmllm.datasets'])

# the perception prompt generator lives in mmmrmllm.text (the data side
# writes its text corpus with it too)
MODELS = Registry(
    'model',
    parent=MMDET_MODELS,
    locations=['mmmrmllm.models', 'mmmrmllm.text'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMDET_MODEL_WRAPPERS,
    locations=['mmmrmllm.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMDET_WEIGHT_INITIALIZERS,
    locations=['mmmrmllm.models'])
TASK_UTILS = Registry(
    'task util', parent=MMDET_TASK_UTILS, locations=['mmmrmllm.models'])

OPTIMIZERS = Registry(
    'optimizer', parent=MMDET_OPTIMIZERS, locations=['mmmrmllm.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMDET_OPTIM_WRAPPERS,
    locations=['mmmrmllm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmmrmllm.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMDET_PARAM_SCHEDULERS,
    locations=['mmmrmllm.engine'])

METRICS = Registry(
    'metric', parent=MMDET_METRICS, locations=['mmmrmllm.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMDET_EVALUATOR, locations=['mmmrmllm.evaluation'])

VISUALIZERS = Registry(
    'visualizer',
    parent=MMDET_VISUALIZERS,
    locations=['mmmrmllm.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMDET_VISBACKENDS,
    locations=['mmmrmllm.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor',
    parent=MMDET_LOG_PROCESSORS,
    locations=['mmmrmllm.engine'])


def all_registries() -> list:
    """Every registry of mmmrmllm defined in this module.

    Returns:
        list[Registry]: In definition order.
    """
    return [
        value for value in globals().values()
        if isinstance(value, Registry) and value.scope == 'mmmrmllm'
    ]
