"""Registries of segtools: children of mmengine's root registries.

Every registry uses ``scope='segtools'`` and lists the packages that hold its
modules in ``locations`` so that ``Registry.get`` imports them lazily: a config
can name a class without the caller importing its module first. A registry
gains its ``locations`` when the package that fills it exists (loops,
optimizers and schedulers land with the training issue); until then it still
resolves every class of its mmengine parent.
"""

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'segtools'

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope=SCOPE)
RUNNER_CONSTRUCTORS = Registry('runner constructor', parent=MMENGINE_RUNNER_CONSTRUCTORS, scope=SCOPE)
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=SCOPE)
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['segtools.engine.hooks'])

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope=SCOPE, locations=['segtools.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE, locations=['segtools.datasets.samplers']
)
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE, locations=['segtools.datasets.transforms'])

MODELS = Registry('model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['segtools.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=SCOPE, locations=['segtools.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope=SCOPE, locations=['segtools.models']
)

OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope=SCOPE)
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE
)
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope=SCOPE)

METRICS = Registry('metric', parent=MMENGINE_METRICS, scope=SCOPE, locations=['segtools.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope=SCOPE, locations=['segtools.evaluation'])
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope=SCOPE, locations=['segtools.models'])

VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope=SCOPE, locations=['segtools.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope=SCOPE)
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS, scope=SCOPE)
INFERENCERS = Registry('inferencer', parent=MMENGINE_INFERENCERS, scope=SCOPE)
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, scope=SCOPE)

__all__ = [
    'SCOPE',
    'RUNNERS',
    'RUNNER_CONSTRUCTORS',
    'LOOPS',
    'HOOKS',
    'DATASETS',
    'DATA_SAMPLERS',
    'TRANSFORMS',
    'MODELS',
    'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS',
    'OPTIMIZERS',
    'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS',
    'METRICS',
    'EVALUATOR',
    'TASK_UTILS',
    'VISUALIZERS',
    'VISBACKENDS',
    'LOG_PROCESSORS',
    'INFERENCERS',
    'FUNCTIONS',
]
