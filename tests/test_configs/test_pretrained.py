"""Every zoo config starts its backbone from named ImageNet weights that fit it, and building fetches nothing.

The expected name comes from the backbone alone (a small table below, independent of the model store); the
model store's entry must then exist, have a URL and say it ``fits`` that very backbone. Without ImageNet weights:
the demos (trained from scratch on a brain atlas), their base model ``fcn_r18-d8``, and the ImageNet classifiers
(``ImageClassifier`` with a 1000-class head: they are what ImageNet weights are made of, trained from scratch).
"""

import functools
import inspect
import re
import urllib.request
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import segtools.registry as registry
import segtools.weights.download as download
import segtools.weights.store as model_store
from segtools.utils import register_all_modules
from segtools.weights.manifest import MODEL_STORE
from segtools.weights.store import SCHEME

CONFIG_ROOT = Path(__file__).resolve().parents[2] / 'configs'
FROM_SCRATCH = {CONFIG_ROOT / '_base_' / 'models' / 'fcn_r18-d8.py'}
IMAGENET_CLASSES = 1000
MODEL_CONFIGS = [
    path
    for path in sorted(CONFIG_ROOT.rglob('*.py'))
    if path not in FROM_SCRATCH
    and 'demo' not in path.relative_to(CONFIG_ROOT).parts
    and ('_base_' not in path.parts or path.parent.name == 'models')
]
# Backbone type -> name of its ImageNet weights (ResNetV1c: by stem width, 64 = OpenMMLab's, 128 = Encoding's).
_NAMING = {
    'ResNetV1c': {64: 'resnet{depth}_v1c', 128: 'resnet{depth}s'},
    'ResNeSt': 'resnest{depth}',
    'WideResNet': 'wideresnet{depth}',
}


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(CONFIG_ROOT)) for path in paths]


@functools.cache
def _model_cfg(path: Path) -> dict:
    return Config.fromfile(path).model.to_dict()


def _is_imagenet_classifier(path: Path) -> bool:
    model = _model_cfg(path)
    return model['type'] == 'ImageClassifier' and model['head'].get('num_classes') == IMAGENET_CLASSES


# Every ImageNet weights file the zoo starts from.
WEIGHTS = (
    'resnet50_v1c',
    'resnet101_v1c',
    'resnet50s',
    'resnet101s',
    'wideresnet38',
    'resnest50',
    'resnest101',
    'resnest200',
    'resnest269',
)


@functools.cache
def _zoo_configs() -> list[Path]:
    """The configs that start from ImageNet weights. Loaded in the tests, not at collection: reading
    ~190 configs takes seconds, which every pytest-xdist worker would spend collecting."""
    return [path for path in MODEL_CONFIGS if not _is_imagenet_classifier(path)]


def _default(backbone_type: str, argument: str):
    """The constructor default of ``argument`` for a registered backbone (e.g. ResNetV1c's stem width)."""
    return inspect.signature(registry.MODELS.get(backbone_type)).parameters[argument].default


def _expected_weights(backbone: dict) -> str:
    """The ImageNet weights a backbone config calls for: ``{'type': 'ResNetV1c', 'depth': 50, ...}`` -> name."""
    kind = backbone['type']
    assert kind in _NAMING, f'backbone type {kind!r} has no ImageNet weights in the naming table {sorted(_NAMING)}'
    pattern = _NAMING[kind]
    if isinstance(pattern, dict):
        stem = backbone.get('stem_channels', _default(kind, 'stem_channels'))
        assert stem in pattern, f'{kind} stem_channels={stem} has no ImageNet weights; expected one of {list(pattern)}'
        pattern = pattern[stem]
    return pattern.format(depth=backbone['depth'])


def _parse_fits(fits: str) -> tuple[str, dict[str, int]]:
    """``'ResNetV1c(depth=50, stem_channels=128)'`` -> ``('ResNetV1c', {'depth': 50, 'stem_channels': 128})``."""
    match = re.match(r'(\w+)\(([^)]*)\)', fits)
    assert match, f'model store fits={fits!r} is not "Type(key=value, ...)"'
    arguments = dict(item.split('=') for item in match.group(2).replace(' ', '').split(',') if item)
    return match.group(1), {key: int(value) for key, value in arguments.items()}


@pytest.fixture(scope='module', autouse=True)
def _registered():
    register_all_modules()


def test_the_zoo_is_covered():
    zoo = _zoo_configs()
    assert len(zoo) >= 160  # 12 base models and 156 leaves when written
    assert len(MODEL_CONFIGS) - len(zoo) >= 17  # ImageNet classifiers: 2 skeletons, 15 leaves when written
    names = {_model_cfg(path)['pretrained'] for path in zoo}
    assert names == {SCHEME + name for name in WEIGHTS}


@pytest.mark.parametrize('path', MODEL_CONFIGS, ids=_ids(MODEL_CONFIGS))
def test_starts_from_fitting_imagenet_weights_or_from_scratch(path):
    if _is_imagenet_classifier(path):
        _check_trains_from_scratch(path)
    else:
        _check_pretrained_fits_the_backbone(path)


def _check_trains_from_scratch(path: Path) -> None:
    # configs/resnet and configs/resnest/*_imagenet.py (and their skeletons) learn the ImageNet weights.
    model = _model_cfg(path)
    backbone = model['backbone']
    assert model.get('pretrained') is None, f'{path}: an ImageNet classifier starting from {model["pretrained"]}'
    assert not backbone.get('init_cfg') and not backbone.get('pretrained'), f'{path}: backbone sets its own weights'


def test_parse_fits():
    assert _parse_fits('ResNetV1c(depth=101, stem_channels=64)') == ('ResNetV1c', {'depth': 101, 'stem_channels': 64})
    assert _parse_fits('WideResNet(depth=38) (keys match PyTorch-Encoding)') == ('WideResNet', {'depth': 38})


def test_expected_weights_table():
    assert _expected_weights(dict(type='ResNetV1c', depth=101, stem_channels=64)) == 'resnet101_v1c'
    assert _expected_weights(dict(type='ResNetV1c', depth=50)) == 'resnet50_v1c'  # the default stem is mmseg's 64
    assert _expected_weights(dict(type='ResNetV1c', depth=50, stem_channels=128)) == 'resnet50s'
    assert _expected_weights(dict(type='ResNeSt', depth=269)) == 'resnest269'
    with pytest.raises(AssertionError, match='stem_channels=32'):
        _expected_weights(dict(type='ResNetV1c', depth=18, stem_channels=32))


def _check_pretrained_fits_the_backbone(path: Path) -> None:
    model = _model_cfg(path)
    pretrained, backbone = model.get('pretrained'), model['backbone']
    name = _expected_weights(backbone)
    assert pretrained == SCHEME + name, f'{path}: model.pretrained={pretrained!r}, expected {SCHEME + name!r}'
    assert name in MODEL_STORE, f'{path}: {name!r} is not in segtools.weights.manifest.MODEL_STORE'
    entry = MODEL_STORE[name]
    assert entry.urls, f'{path}: the model store has no URL for {name!r}'
    assert entry.sha256 or entry.sha1, f'{path}: the model store has no hash for {name!r}'
    kind, arguments = _parse_fits(entry.fits)
    assert kind == backbone['type'], f'{path}: {name} fits {entry.fits}, the backbone is {backbone["type"]}'
    for key, value in arguments.items():
        actual = backbone.get(key, _default(kind, key))
        assert actual == value, f'{path}: {name} fits {entry.fits}, the backbone has {key}={actual}'
    assert not backbone.get('init_cfg') and not backbone.get('pretrained'), f'{path}: backbone sets its own weights'


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Every way to fetch weights raises; the cache is an empty folder."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f'network access while building a model: {args}')

    monkeypatch.setenv('SEGTOOLS_HOME', str(tmp_path))
    monkeypatch.setattr(download, 'download_file', refuse)
    monkeypatch.setattr(model_store, 'download_file', refuse)
    monkeypatch.setattr(model_store, 'get_model_file', refuse)
    monkeypatch.setattr(urllib.request, 'urlopen', refuse)
    return calls, tmp_path


@pytest.mark.parametrize('name', WEIGHTS)
def test_building_fetches_nothing(name, no_network):
    # The first config (in path order) that starts from these weights.
    path = next(path for path in _zoo_configs() if _model_cfg(path)['pretrained'] == SCHEME + name)
    calls, home = no_network
    cfg = Config.fromfile(path)
    with torch.device('meta'):
        model = registry.MODELS.build(cfg.model)
    assert model.backbone.init_cfg == dict(type='Pretrained', checkpoint=cfg.model.pretrained)
    assert calls == []
    assert list(home.iterdir()) == []
