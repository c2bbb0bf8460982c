"""segtools.models.converters.encoding: PyTorch-Encoding backbones and segmentation models.

Backbones and the DeepLabV3 head are rebuilt in PyTorch-Encoding's layout (``_source_models``);
their converted weights must give the same outputs in segtools. Whole segmentation models are
checked by key list: the converted keys and shapes must be exactly those of the config's model.
"""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segtools.models.converters import check_against_model, convert_keys, encoding
from segtools.registry import MODELS

from ._source_models import (
    SourceDeepLabHead,
    SourceResNet,
    assert_same_features,
    build,
    encoding_fcn_keys,
    encoding_head_keys,
    fake_state,
    randomize,
    shapes,
)

ROOT = Path(__file__).resolve().parents[3]
DILATED = dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True)
R50S_SOURCE = dict(stem_width=64)
RESNEST_SOURCE = dict(stem_width=32, avg_down=True, radix=2, avd=True)

BACKBONE_CASES = [
    # (arch, source options, segtools backbone config)
    ('resnet50s', dict(stem_width=64), dict(type='ResNetV1c', depth=50)),
    ('resnet50s', dict(stem_width=64, dilated=True), dict(type='ResNetV1c', depth=50, **DILATED)),
    ('resnest50', dict(RESNEST_SOURCE, dilated=True), dict(type='ResNeSt', depth=50, **DILATED)),
]


@pytest.mark.parametrize(('arch', 'source_opts', 'backbone_cfg'), BACKBONE_CASES)
def test_converted_backbone_reproduces_source_outputs(arch, source_opts, backbone_cfg):
    source = randomize(SourceResNet(**source_opts))
    result = encoding.convert_with_report(source.state_dict(), arch)
    assert result.dropped == ['fc.weight', 'fc.bias']
    ours = build(backbone_cfg)
    assert shapes(result.state_dict) == shapes(ours.state_dict())
    ours.load_state_dict(result.state_dict, strict=True)
    assert_same_features(source, ours)


def test_missing_num_batches_tracked_is_filled():
    state = SourceResNet(stem_width=64).state_dict()
    old = {key: value for key, value in state.items() if not key.endswith('num_batches_tracked')}
    converted = encoding.convert(old, 'resnet50s')
    assert shapes(converted) == shapes(build(dict(type='ResNetV1c', depth=50)).state_dict())
    assert converted['stem.7.num_batches_tracked'].item() == 0


def test_deeplab_head_reproduces_source_outputs():
    """PyTorch-Encoding concatenates ASPP's image pooling last; the projection must be rotated."""
    source = randomize(SourceDeepLabHead(32, nclass=5))
    state = {f'head.{key}': value for key, value in source.state_dict().items()}
    converted = convert_keys(state, encoding.HEADS['deeplab'], 'deeplab').state_dict
    head = build(
        dict(
            type='ASPPHead',
            in_channels=32,
            channels=4,
            dilations=(1, 12, 24, 36),
            project_dropout_ratio=0.5,
            num_classes=5,
            norm_cfg=dict(type='BN'),
            align_corners=True,
        )
    )
    head.load_state_dict({key.removeprefix('decode_head.'): value for key, value in converted.items()}, strict=True)
    x = torch.randn(2, 32, 9, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(head([x]), source(x), rtol=1e-7, atol=1e-9)


SEGMENTATION_MODELS = [
    # (arch, source backbone options, head, nclass, lateral, aux, segtools config)
    ('fcn_resnet50s', dict(stem_width=64), 'fcn', 150, False, False, 'fcn/fcn_r50s-d8_4xb4-180e_ade20k-480x480.py'),
    ('psp_resnet50s', R50S_SOURCE, 'psp', 150, False, True, 'pspnet/pspnet_r50s-d8_4xb4-180e_ade20k-480x480.py'),
    (
        'encnet_resnet50s',
        dict(stem_width=64),
        'encnet',
        150,
        False,
        True,
        'encnet/encnet_r50s-d8_4xb4-180e_ade20k-480x480.py',
    ),
    (
        'encnet_resnet50s',
        dict(stem_width=64),
        'encnet',
        59,
        True,
        True,
        'encnet/encnet_r50s-d8_4xb4-80e_pascal-context-59-480x480.py',
    ),
    ('fcn_resnest50', RESNEST_SOURCE, 'fcn', 150, False, True, 'resnest/fcn_s50-d8_4xb4-120e_ade20k-480x480.py'),
    (
        'deeplab_resnest50',
        RESNEST_SOURCE,
        'deeplab',
        150,
        False,
        True,
        'resnest/deeplabv3_s50-d8_4xb4-120e_ade20k-480x480.py',
    ),
]


def model_state(config):
    return MODELS.build(Config.fromfile(str(ROOT / 'configs' / config)).model).state_dict()


@pytest.mark.parametrize(('arch', 'backbone_opts', 'head', 'nclass', 'lateral', 'aux', 'config'), SEGMENTATION_MODELS)
def test_segmentation_model_keys_match_config(arch, backbone_opts, head, nclass, lateral, aux, config):
    backbone = SourceResNet(**backbone_opts).state_dict()
    # BaseNet sets pretrained.fc = None, so a segmentation checkpoint has no classifier.
    key_shapes = {f'pretrained.{k}': tuple(v.shape) for k, v in backbone.items() if not k.startswith('fc.')}
    key_shapes |= encoding_head_keys(head, nclass, lateral)
    if aux:
        key_shapes |= encoding_fcn_keys('auxlayer', 1024, nclass)
    result = encoding.convert_with_report(fake_state(key_shapes), arch)
    assert result.dropped == []
    expected = model_state(config)
    assert shapes(result.state_dict) == shapes(expected)
    assert check_against_model(result.state_dict, expected) == ([], [])


def test_parse_arch_and_unknown_arch():
    assert encoding.parse_arch('encnet_resnet101s') == ('encnet', 'resnet101s')
    assert encoding.parse_arch('resnest50') == (None, 'resnest50')
    with pytest.raises(KeyError, match='resnet42'):
        encoding.convert({}, 'resnet42')
    assert encoding.BACKBONE_ARCHS < set(encoding.ARCHS) and 'deeplab_resnest269' in encoding.ARCHS
