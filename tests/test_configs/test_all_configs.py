"""Every config under ``configs/`` loads, and every one with a model builds it.

Leaf configs (everything outside ``_base_``) must also be complete runs: a train/val/test
setup whose dataset type is registered and whose heads (a segmentor's decode and auxiliary heads,
an ImageClassifier's head) predict as many classes as the
dataset has. Models are built on the meta device: the point is the registry lookups and
the argument contracts, not the 100-million-float initialisation of ResNeSt-269.
"""

import copy
import functools
from pathlib import Path

import mmengine.runner  # noqa: F401  (registers mmengine's hooks, loops, optimizers)
import pytest
import torch
from mmengine.config import Config

import segtools.registry as registry
from segtools.utils import register_all_modules

CONFIG_ROOT = Path(__file__).resolve().parents[2] / 'configs'
ALL_CONFIGS = sorted(CONFIG_ROOT.rglob('*.py'))
LEAF_CONFIGS = [path for path in ALL_CONFIGS if '_base_' not in path.parts]
MODEL_CONFIGS = [path for path in ALL_CONFIGS if '_base_' not in path.parts or path.parent.name == 'models']
RUN_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'optim_wrapper', 'train_cfg')


@functools.cache
def _parsed(path: Path) -> Config:
    return Config.fromfile(path)


def _load(path: Path) -> Config:
    """``Config.fromfile(path)``, parsed once per path (each config is read by up to three tests)."""
    return copy.deepcopy(_parsed(path))


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(CONFIG_ROOT)) for path in paths]


def _heads(model_cfg) -> list:
    """The class-predicting heads: a segmentor's decode/auxiliary heads, an ImageClassifier's head."""
    heads = []
    for key in ('decode_head', 'auxiliary_head', 'head'):
        head = model_cfg.get(key, None)
        if head is None:
            continue
        heads.extend(head if isinstance(head, list) else [head])
    return heads


@pytest.fixture(scope='module', autouse=True)
def _registered():
    register_all_modules()


def test_the_zoo_is_there():
    # The model zoo's architectures each have a base model and leaf configs.
    assert len(MODEL_CONFIGS) - len(LEAF_CONFIGS) >= 13
    assert len(LEAF_CONFIGS) >= 80
    assert (CONFIG_ROOT / 'encnet' / 'encnet_r101_ade20k.py') in LEAF_CONFIGS
    for folder in sorted({path.parent for path in LEAF_CONFIGS}):
        assert (folder / 'README.md').is_file() or folder.name == 'demo', f'{folder} has no README.md'


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=_ids(ALL_CONFIGS))
def test_config_loads(path):
    cfg = _load(path)
    assert len(cfg) > 0


@pytest.mark.parametrize('path', MODEL_CONFIGS, ids=_ids(MODEL_CONFIGS))
def test_model_builds(path):
    cfg = _load(path)
    with torch.device('meta'):
        model = registry.MODELS.build(cfg.model)
    count = sum(parameter.numel() for parameter in model.parameters())
    assert count > 0, f'{path}: the model has no parameters'


@pytest.mark.parametrize('path', LEAF_CONFIGS, ids=_ids(LEAF_CONFIGS))
def test_leaf_config_is_a_complete_run(path):
    cfg = _load(path)
    missing = [key for key in RUN_KEYS if cfg.get(key, None) is None]
    assert not missing, f'{path} lacks {missing}'
    assert cfg.default_scope == 'segtools'
    assert cfg.get('tta_model', None) is not None and cfg.get('tta_pipeline', None) is not None
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[split].dataset
        dataset_class = registry.DATASETS.get(dataset.type)
        assert dataset_class is not None, f'{path}: {split}.dataset.type {dataset.type!r} is not registered'
        for transform in dataset.get('pipeline', []):
            assert registry.TRANSFORMS.get(transform.type) is not None, f'{path}: transform {transform.type!r}'
    dataset = cfg.test_dataloader.dataset
    num_classes = len(registry.DATASETS.get(dataset.type).METAINFO['classes'])
    heads = _heads(cfg.model)
    assert heads, f'{path}: model {cfg.model.type} has no decode_head or head'
    for head in heads:
        assert head.num_classes == num_classes, (
            f'{path}: {head.type}.num_classes={head.num_classes} but {dataset.type} has {num_classes} classes'
        )
