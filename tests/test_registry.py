"""Tests of the registries and register_all_modules."""

import mmengine.registry as mmengine_registry
import pytest
from mmengine.registry import DefaultScope

import segtools.registry as registry
from segtools.utils import register_all_modules

NAMES = [name for name in registry.__all__ if name != 'SCOPE']


def test_every_mmengine_root_registry_has_a_child():
    assert len(NAMES) >= 20
    for name in NAMES:
        child = getattr(registry, name)
        assert child.scope == 'segtools', name
        assert child.parent is getattr(mmengine_registry, name), name


@pytest.mark.parametrize(
    'name,location',
    [
        ('MODELS', 'segtools.models'),
        ('WEIGHT_INITIALIZERS', 'segtools.models'),
        ('TASK_UTILS', 'segtools.models'),
        ('DATASETS', 'segtools.datasets'),
        ('TRANSFORMS', 'segtools.datasets.transforms'),
        ('METRICS', 'segtools.evaluation'),
        ('EVALUATOR', 'segtools.evaluation'),
        ('HOOKS', 'segtools.engine.hooks'),
        ('VISUALIZERS', 'segtools.visualization'),
    ],
)
def test_registries_import_lazily(name, location):
    assert getattr(registry, name)._locations == [location]


def test_models_resolve_lazily_and_fall_back_to_parent():
    # RFConv2d is found through `locations` (segtools.models imports it on demand);
    # Conv2d is only in mmengine's registry and resolves through the parent.
    assert registry.MODELS.get('RFConv2d').__name__ == 'RFConv2d'
    assert registry.MODELS.get('Conv2d') is not None


def test_register_all_modules_sets_default_scope():
    register_all_modules()
    assert DefaultScope.get_current_instance().scope_name == 'segtools'
    from segtools.models.layers import RFConv2d

    assert registry.MODELS.build(dict(type='RFConv2d', in_channels=2, out_channels=3, kernel_size=3)).__class__ is (
        RFConv2d
    )


@pytest.mark.parametrize(
    'registry_name,type_name',
    [
        ('DATASETS', 'BrainAtlasDataset'),
        ('TRANSFORMS', 'PackSegInputs'),
        ('METRICS', 'IoUMetric'),
        ('HOOKS', 'SegVisualizationHook'),
        ('VISUALIZERS', 'SegLocalVisualizer'),
    ],
)
def test_data_and_metric_names_resolve(registry_name, type_name):
    assert getattr(registry, registry_name).get(type_name).__name__ == type_name
