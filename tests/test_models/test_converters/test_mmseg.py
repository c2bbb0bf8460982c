"""segtools.models.converters.mmseg: mmseg segmentors (key lists vs configs) and OpenMMLab ResNetV1c."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segtools.models.converters import ConversionError, mmseg
from segtools.registry import MODELS

from ._source_models import (
    bn_keys,
    build,
    conv_keys,
    fake_state,
    linear_keys,
    mmseg_backbone_keys,
    mmseg_conv_module,
    mmseg_head_keys,
    shapes,
)

ROOT = Path(__file__).resolve().parents[3]
MODELS_AND_CONFIGS = [
    ('fcn', 'fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py'),
    ('psp', 'pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py'),
    ('deeplabv3', 'deeplabv3/deeplabv3_r50-d8_4xb4-80k_ade20k-512x512.py'),
    ('encnet', 'encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512.py'),
]


@pytest.mark.parametrize(('arch', 'config'), MODELS_AND_CONFIGS)
def test_segmentor_keys_match_config(arch, config):
    key_shapes = mmseg_backbone_keys() | mmseg_head_keys(arch, 150)
    key_shapes |= mmseg_conv_module('auxiliary_head.convs.0', 256, 1024, 3)
    key_shapes |= conv_keys('auxiliary_head.conv_seg', 150, 256, bias=True)
    state = fake_state(key_shapes)
    converted = mmseg.convert(state, arch)
    model = MODELS.build(Config.fromfile(str(ROOT / 'configs' / config)).model)
    assert shapes(converted) == shapes(model.state_dict())
    # Renaming never alters values.
    for src_key in ('backbone.stem.7.running_var', 'auxiliary_head.conv_seg.bias'):
        assert torch.equal(converted[src_key], state[src_key])


@pytest.mark.parametrize('depth', [18, 50])
def test_openmmlab_resnet_v1c_loads_into_resnet_v1c_stem_64(depth):
    """OpenMMLab's ImageNet file: segtools' names, no prefix; its classifier is dropped."""
    backbone = build(dict(type='ResNetV1c', depth=depth, stem_channels=64))
    expected = backbone.state_dict()
    width = 512 if depth == 18 else 2048
    source = fake_state({k: tuple(v.shape) for k, v in expected.items()} | linear_keys('fc', 1000, width))
    result = mmseg.convert_with_report(source, 'resnet_v1c')
    assert result.dropped == ['fc.weight', 'fc.bias']
    assert shapes(result.state_dict) == shapes(expected)
    assert torch.equal(result.state_dict['stem.6.weight'], source['stem.6.weight'])


def test_resnet_v1c_refuses_a_prefixed_or_foreign_layout():
    with pytest.raises(ConversionError, match=r'backbone\.stem\.0\.weight'):
        mmseg.convert({'backbone.stem.0.weight': torch.zeros(1)}, 'resnet_v1c')
    with pytest.raises(ConversionError, match=r'head\.fc\.weight'):
        mmseg.convert(fake_state(bn_keys('stem.1', 2) | {'head.fc.weight': (3, 2)}), 'resnet_v1c')


def test_unknown_arch_is_refused():
    with pytest.raises(KeyError, match='pspnet'):
        mmseg.convert({}, 'pspnet')
    assert mmseg.BACKBONE_ARCHS == {'resnet_v1c'}


def build_config_model(config, **model_updates):
    """The config's model with top-level ``model`` fields replaced, on the meta device."""
    cfg = Config.fromfile(str(ROOT / 'configs' / config)).model
    cfg.update(model_updates)
    with torch.device('meta'):
        return MODELS.build(cfg)


def test_encnet_with_lateral_keys_match():
    """mmseg EncHead(add_lateral=True): ``lateral_convs.i`` on c2, c3 and ``fusion`` over [c4, c2, c3]."""
    key_shapes = mmseg_backbone_keys() | mmseg_head_keys('encnet', 150)
    key_shapes |= mmseg_conv_module('decode_head.lateral_convs.0', 512, 512, 1)
    key_shapes |= mmseg_conv_module('decode_head.lateral_convs.1', 512, 1024, 1)
    key_shapes |= mmseg_conv_module('decode_head.fusion', 512, 3 * 512, 3)
    key_shapes |= mmseg_conv_module('auxiliary_head.convs.0', 256, 1024, 3)
    key_shapes |= conv_keys('auxiliary_head.conv_seg', 150, 256, bias=True)
    state = fake_state(key_shapes)
    converted = mmseg.convert(state, 'encnet')
    config = MODELS_AND_CONFIGS[3][1]
    decode_head = dict(Config.fromfile(str(ROOT / 'configs' / config)).model.decode_head, add_lateral=True)
    model = build_config_model(config, decode_head=decode_head)
    assert shapes(converted) == shapes(model.state_dict())
    assert torch.equal(
        converted['decode_head.lateral_fuse.fusion.conv.weight'], state['decode_head.fusion.conv.weight']
    )
    assert torch.equal(
        converted['decode_head.lateral_fuse.lateral_convs.1.bn.running_var'],
        state['decode_head.lateral_convs.1.bn.running_var'],
    )


def test_a_list_of_auxiliary_heads_keeps_its_indices():
    aux = dict(type='FCNHead', in_index=2, num_convs=1, concat_input=False, num_classes=150, channels=256)
    aux |= dict(norm_cfg=dict(type='BN'))
    key_shapes = mmseg_backbone_keys() | mmseg_head_keys('psp', 150)
    for i, c_in in enumerate((1024, 512)):
        key_shapes |= mmseg_conv_module(f'auxiliary_head.{i}.convs.0', 256, c_in, 3)
        key_shapes |= conv_keys(f'auxiliary_head.{i}.conv_seg', 150, 256, bias=True)
    converted = mmseg.convert(fake_state(key_shapes), 'psp')
    heads = [dict(aux, in_channels=1024), dict(aux, in_channels=512, in_index=1)]
    model = build_config_model(MODELS_AND_CONFIGS[1][1], auxiliary_head=heads)
    assert shapes(converted) == shapes(model.state_dict())
