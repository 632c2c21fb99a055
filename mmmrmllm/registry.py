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

ENGINE_PKG = 'mmmrmllm.engine'
DATA_PKG = 'mmmrmllm.datasets'
MODELS_PKG = 'mmmrmllm.models'
# the detection prompt generator lives in mmmrmllm.text (the data side
# writes its text corpus with it too)
TEXT_PKG = 'mmmrmllm.text'
EVALUATION_PKG = 'mmmrmllm.evaluation'
VISUALIZATION_PKG = 'mmmrmllm.visualization'


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    """A registry of mmmrmllm under mmdet's ``parent``.

    Args:
        name (str): Registry name.
        parent (Registry): mmdet's registry of the same kind.
        *locations (str): The subpackages whose import registers its
            modules.

    Returns:
        Registry: Scope ``mmmrmllm``.
    """
    return Registry(
        name, parent=parent, scope='mmmrmllm', locations=list(locations))


RUNNERS = _child('runner', MMDET_RUNNERS, ENGINE_PKG)
RUNNER_CONSTRUCTORS = _child('runner constructor', MMDET_RUNNER_CONSTRUCTORS,
                             ENGINE_PKG)
LOOPS = _child('loop', MMDET_LOOPS, ENGINE_PKG)
HOOKS = _child('hook', MMDET_HOOKS, ENGINE_PKG)

DATASETS = _child('dataset', MMDET_DATASETS, DATA_PKG)
DATA_SAMPLERS = _child('data sampler', MMDET_DATA_SAMPLERS, DATA_PKG)
TRANSFORMS = _child('transform', MMDET_TRANSFORMS, DATA_PKG)

MODELS = _child('model', MMDET_MODELS, MODELS_PKG, TEXT_PKG)
MODEL_WRAPPERS = _child('model_wrapper', MMDET_MODEL_WRAPPERS, MODELS_PKG)
WEIGHT_INITIALIZERS = _child('weight initializer', MMDET_WEIGHT_INITIALIZERS,
                             MODELS_PKG)
TASK_UTILS = _child('task util', MMDET_TASK_UTILS, MODELS_PKG)

OPTIMIZERS = _child('optimizer', MMDET_OPTIMIZERS, ENGINE_PKG)
OPTIM_WRAPPERS = _child('optim_wrapper', MMDET_OPTIM_WRAPPERS, ENGINE_PKG)
OPTIM_WRAPPER_CONSTRUCTORS = _child(
    'optimizer wrapper constructor', MMDET_OPTIM_WRAPPER_CONSTRUCTORS,
    ENGINE_PKG)
PARAM_SCHEDULERS = _child('parameter scheduler', MMDET_PARAM_SCHEDULERS,
                          ENGINE_PKG)

METRICS = _child('metric', MMDET_METRICS, EVALUATION_PKG)
EVALUATOR = _child('evaluator', MMDET_EVALUATOR, EVALUATION_PKG)

VISUALIZERS = _child('visualizer', MMDET_VISUALIZERS, VISUALIZATION_PKG)
VISBACKENDS = _child('vis_backend', MMDET_VISBACKENDS, VISUALIZATION_PKG)
LOG_PROCESSORS = _child('log_processor', MMDET_LOG_PROCESSORS, ENGINE_PKG)


def all_registries() -> list:
    """Every registry of mmmrmllm defined in this module.

    Returns:
        list[Registry]: In definition order.
    """
    return [
        value for value in globals().values()
        if isinstance(value, Registry) and value.scope == 'mmmrmllm'
    ]
