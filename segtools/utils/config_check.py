"""Does a config run in segtools? Build every part of it and train one step, without its data.

:func:`check_config` is what ``tools/misc/check_mmseg_configs.py`` runs on each config of an
MMSegmentation checkout or wheel: the config is loaded as ``tools/train.py`` loads it
(:func:`~segtools.utils.config_compat.load_config`), pretrained weights are switched off (nothing
downloads), and then, stage by stage:

1. ``runner``: mmengine's ``Runner`` is built from it (model, data preprocessor, visualizer,
   hooks, environment), in a scratch work dir;
2. ``datasets``: every dataset type (wrappers followed) resolves to a registered class (building
   a dataset needs its files, so none is built);
3. ``pipelines``: every transform of the train/val/test datasets' pipelines and of
   ``tta_pipeline`` is built;
4. ``evaluators``: ``val_evaluator`` and ``test_evaluator``;
5. ``optimizer``: the optimizer wrapper (with its ``paramwise_cfg``);
6. ``schedulers``: every ``param_scheduler``;
7. ``train step``: one ``model.train_step`` on a random batch of two ``size`` x ``size`` images
   with random labels of the heads' class count (the data preprocessor's fixed padding size is
   set to the batch's size, so a 512x1024 recipe is checked at a small size on a CPU).

The first stage that fails is reported with its error; later stages are not run.
"""

import copy
import itertools
import os
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from segtools.registry import DATASETS, PARAM_SCHEDULERS, SCOPE, TRANSFORMS
from segtools.structures import SegDataSample

from .config_compat import load_config

STAGES = ('load', 'runner', 'datasets', 'pipelines', 'evaluators', 'optimizer', 'schedulers', 'train step')
# Optimizer wrappers that need a GPU in mmengine; on a CPU-only machine the step runs in bfloat16.
GPU_ONLY_WRAPPERS = ('AmpOptimWrapper',)
_RUN_IDS = itertools.count()


@dataclass
class ConfigCheck:
    """The outcome of :func:`check_config` for one file.

    Attributes:
        path: The config file.
        failed_stage: The first stage that raised (one of :data:`STAGES`), or None.
        error: ``ErrorClass: message`` of that stage.
        detail: The traceback of the error (for ``--verbose``).
        notes: What the check changed or could not run, e.g. an AMP wrapper on a CPU machine.
    """

    path: str
    failed_stage: str | None = None
    error: str | None = None
    detail: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed_stage is None


def check_config(path: str, size: int = 64, train_step: bool = True) -> ConfigCheck:
    """Loads ``path`` and runs the stages of the module docstring.

    Args:
        path: The config file.
        size: Height and width of the random training batch.
        train_step: Run the last stage.

    Returns:
        The result; exceptions of the config's own making are caught and reported in it.
    """
    result = ConfigCheck(path=str(path))
    stage = 'load'
    try:
        cfg = load_config(path)
        disable_pretrained(cfg)
        with tempfile.TemporaryDirectory(prefix='segtools-config-check-') as work_dir:
            stage = 'runner'
            runner = _build_runner(cfg, work_dir)
            with DefaultScope.overwrite_default_scope(cfg.get('default_scope', SCOPE)):
                stage = 'datasets'
                for dataset_type in config_dataset_types(cfg):
                    if isinstance(dataset_type, str) and DATASETS.get(dataset_type) is None:
                        raise KeyError(f'dataset type {dataset_type!r} is not registered in segtools (nor in mmengine)')
                stage = 'pipelines'
                for pipeline in config_pipelines(cfg):
                    for transform in pipeline:
                        TRANSFORMS.build(copy.deepcopy(transform))
                stage = 'evaluators'
                for key in ('val_evaluator', 'test_evaluator'):
                    if cfg.get(key) is not None:
                        runner.build_evaluator(copy.deepcopy(cfg[key]))
                stage = 'optimizer'
                optim_wrapper = _build_optim_wrapper(runner, cfg, result.notes)
                stage = 'schedulers'
                _build_schedulers(cfg, optim_wrapper)
                if train_step:
                    stage = 'train step'
                    _train_step(runner.model, optim_wrapper, size)
    except Exception as error:  # noqa: BLE001 - the check reports whatever a config makes fail
        result.failed_stage = stage
        result.error = f'{type(error).__name__}: {error}'
        result.detail = traceback.format_exc()
    return result


def disable_pretrained(cfg: Config) -> None:
    """Switches every pretrained-weights setting of ``cfg.model`` off (nothing downloads).

    ``model.pretrained`` becomes None and every ``init_cfg`` of type ``Pretrained`` inside the
    model is removed.
    """
    if 'pretrained' in cfg.model:
        cfg.model.pretrained = None
    _drop_pretrained_init(cfg.model)


def _drop_pretrained_init(node: object) -> None:
    if isinstance(node, Mapping):
        init = node.get('init_cfg')
        if isinstance(init, Mapping) and init.get('type') == 'Pretrained':
            node['init_cfg'] = None
        for value in node.values():
            _drop_pretrained_init(value)
    elif isinstance(node, list | tuple):
        for value in node:
            _drop_pretrained_init(value)


def config_pipelines(cfg: Config) -> Iterator[list]:
    """Every transform list of the config: each dataset's ``pipeline`` (wrappers followed) and ``tta_pipeline``."""
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, Mapping):
            yield from _dataset_pipelines(loader.get('dataset'))
    if cfg.get('tta_pipeline'):
        yield cfg.tta_pipeline


def config_dataset_types(cfg: Config) -> Iterator[object]:
    """The ``type`` of every dataset of the train/val/test dataloaders, wrappers and wrapped ones."""
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, Mapping):
            for dataset in _datasets(loader.get('dataset')):
                yield dataset.get('type')


def _datasets(dataset: object) -> Iterator[Mapping]:
    """``dataset`` and every dataset it wraps (``dataset=`` of RepeatDataset, ``datasets=`` of ConcatDataset)."""
    if not isinstance(dataset, Mapping):
        return
    yield dataset
    yield from _datasets(dataset.get('dataset'))
    for inner in dataset.get('datasets') or ():
        yield from _datasets(inner)


def _dataset_pipelines(dataset: object) -> Iterator[list]:
    for inner in _datasets(dataset):
        if inner.get('pipeline'):
            yield inner['pipeline']


def _build_runner(cfg: Config, work_dir: str):
    from mmengine.runner import Runner

    from .launch import prepare_cpu_distributed

    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    # mmengine keeps loggers and visualizers by name for the process: one name per check, so the
    # next config does not reuse one that writes into a deleted scratch dir.
    name = f'config-check-{next(_RUN_IDS)}'
    cfg.experiment_name = name
    if isinstance(cfg.get('visualizer'), Mapping):
        cfg.visualizer.name = name
    prepare_cpu_distributed(cfg)
    # The runner logs to the work dir; keep the check's own output readable.
    cfg.log_level = 'WARNING'
    return Runner.from_cfg(cfg)


def _build_optim_wrapper(runner, cfg: Config, notes: list[str]):
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    if wrapper_cfg.get('type') in GPU_ONLY_WRAPPERS and not torch.cuda.is_available():
        notes.append(
            f'optim_wrapper.type={wrapper_cfg["type"]} needs a GPU; checked with BF16OptimWrapper on this CPU '
            '(as tools/train.py --amp trains there)'
        )
        from segtools.engine.optimizers import bf16_wrapper_cfg  # engine imports utils: not at module level

        wrapper_cfg = bf16_wrapper_cfg(wrapper_cfg)
    return runner.build_optim_wrapper(wrapper_cfg)


def _build_schedulers(cfg: Config, optim_wrapper) -> list:
    schedulers = cfg.get('param_scheduler') or []
    schedulers = schedulers if isinstance(schedulers, list | tuple) else [schedulers]
    train_cfg = cfg.get('train_cfg') or {}
    built = []
    for scheduler in schedulers:
        scheduler = copy.deepcopy(scheduler)
        by_epoch = scheduler.get('by_epoch', True)
        default_end = train_cfg.get('max_epochs' if by_epoch else 'max_iters')
        if default_end is not None:
            scheduler.setdefault('end', default_end)
        # epoch_length only matters for convert_to_iter_based, which needs the dataset's length.
        built.append(PARAM_SCHEDULERS.build(scheduler, default_args=dict(optimizer=optim_wrapper, epoch_length=1)))
    return built


def _decode_num_classes(model: torch.nn.Module) -> int:
    """The class count of the model's decode head (the first, for a cascade)."""
    head = model.decode_head
    head = head[0] if isinstance(head, torch.nn.ModuleList) else head
    return int(head.num_classes)


def _train_step(model, optim_wrapper, size: int) -> dict:
    num_classes = _decode_num_classes(model)
    preprocessor = model.data_preprocessor
    if getattr(preprocessor, 'size', None) is not None:
        preprocessor.size = (size, size)
    generator = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=generator))
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, size, size), generator=generator))
        sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size)))
        samples.append(sample)
    model.train()
    losses = model.train_step(dict(inputs=inputs, data_samples=samples), optim_wrapper)
    total = sum(value for key, value in losses.items() if 'loss' in key)
    if not torch.isfinite(torch.as_tensor(total)):
        raise FloatingPointError(f'the training step gave a non-finite loss: {losses}')
    return losses


def find_configs(root: str, families: tuple[str, ...] | None = None) -> list[str]:
    """The leaf configs under ``root`` (``_base_`` excluded), optionally only in the folders ``families``."""
    found = []
    for folder in sorted(os.listdir(root)):
        if folder == '_base_' or not os.path.isdir(os.path.join(root, folder)):
            continue
        if families and folder not in families:
            continue
        found.extend(
            os.path.join(root, folder, name)
            for name in sorted(os.listdir(os.path.join(root, folder)))
            if name.endswith('.py')
        )
    return found


__all__ = ['STAGES', 'ConfigCheck', 'check_config', 'config_pipelines', 'disable_pretrained', 'find_configs']
