"""segtools.weights.converters.mmseg: mmseg segmentors (key lists vs configs and small models), OpenMMLab ResNetV1c."""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segtools.models.layers.pam_cam import PAM
from segtools.registry import MODELS
from segtools.weights.converters import ConversionError, mmseg

from . import _mmseg_layout as mmseg_layout
from ._mmseg_layout import JPU, PSP, SMALL_MODELS, mmseg_state, small_model_cfg
from ._source_models import (
    bn_keys,
    build,
    conv_keys,
    fake_state,
    linear_keys,
    mmseg_backbone_keys,
    mmseg_conv_module,
    mmseg_head_keys,
    randomize,
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


# --- Every mmseg head and neck of the eight config families, on a small ResNetV1c-18 ---------------------


def test_every_segmentor_arch_has_a_small_model():
    assert set(mmseg.ARCHS) - mmseg.BACKBONE_ARCHS == set(SMALL_MODELS)
    assert len(SMALL_MODELS) == 10


@pytest.mark.parametrize('arch', sorted(SMALL_MODELS))
def test_mmseg_checkpoint_converts_to_the_keys_and_shapes_of_its_model(arch):
    model = build_small(arch)
    expected = shapes(model.state_dict())
    state = mmseg_state(arch, model.state_dict())
    result = mmseg.convert_with_report(state, arch)
    assert shapes(result.state_dict) == expected and not result.dropped
    assert mmseg.arch_for_model(model) == arch
    assert mmseg.convert_for_model(state, model)[0] == arch
    # Keys and values pass unchanged where the names agree.
    assert torch.equal(result.state_dict['auxiliary_head.conv_seg.weight'], state['auxiliary_head.conv_seg.weight'])


def build_small(arch: str):
    with torch.device('meta'):
        return MODELS.build(small_model_cfg(arch))


@pytest.mark.parametrize(
    ('arch', 'source', 'target'),
    [
        ('upernet', 'decode_head.psp_modules.3.1.bn.running_var', 'decode_head.psp.branches.3.conv.bn.running_var'),
        ('upernet', 'decode_head.fpn_convs.2.conv.weight', 'decode_head.fpn.fpn_convs.2.conv.weight'),
        ('upernet', 'decode_head.lateral_convs.0.bn.bias', 'decode_head.fpn.lateral_convs.0.bn.bias'),
        ('deeplabv3plus', 'decode_head.aspp_modules.2.depthwise_conv.conv.weight', None),
        ('deeplabv3plus', 'decode_head.sep_bottleneck.1.pointwise_conv.bn.weight', None),
        ('danet', 'decode_head.pam.query_project.weight', 'decode_head.pam.query_conv.weight'),
        ('jpu_psp', 'neck.conv_layers.2.0.conv.weight', 'neck.level_convs.2.conv.weight'),
        ('jpu_psp', 'neck.dilation_layers.3.0.pointwise_conv.bn.weight', None),
    ],
)
def test_renamed_keys_keep_their_values(arch, source, target):
    if target is None:
        target = source.replace('aspp_modules', 'aspp.branches').replace('dilation_layers.3.0', 'dilation_convs.3')
    model = build_small(arch)
    state = mmseg_state(arch, model.state_dict())
    result = mmseg.convert_with_report(state, arch)
    assert result.renamed[source] == target and torch.equal(result.state_dict[target], state[source])


def test_danet_scale_modules_become_gamma_parameters():
    model = build_small('danet')
    state = mmseg_state('danet', model.state_dict())
    state['decode_head.pam.gamma.scale'] = torch.tensor(0.25)
    state['decode_head.cam.gamma.scale'] = torch.tensor(-0.5)
    converted = mmseg.convert(state, 'danet')
    assert converted['decode_head.pam.gamma'].tolist() == [0.25]
    assert converted['decode_head.cam.gamma'].tolist() == [-0.5]
    assert not any(key.endswith('.scale') for key in converted)


def test_danet_position_attention_gives_mmsegs_output():
    """Query and key projections have the same shape: only the output shows they are not swapped."""
    source = randomize(mmseg_layout.MMSegPAM(16, 4))
    with torch.no_grad():
        source.gamma.scale.fill_(0.7)
    converted = mmseg.convert({f'decode_head.pam.{k}': v for k, v in source.state_dict().items()}, 'danet')
    ours = PAM(16, 4).double().eval()
    ours.load_state_dict({k.removeprefix('decode_head.pam.'): v for k, v in converted.items()})
    x = torch.randn(2, 16, 5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), source(x))


def test_jpu_fuses_the_levels_in_mmsegs_order():
    """The separable convs read the levels finest first in both: a permutation would keep every shape."""
    source = randomize(mmseg_layout.MMSegJPU((16, 32, 64), 8))
    converted = mmseg.convert({f'neck.{k}': v for k, v in source.state_dict().items()}, 'jpu_psp')
    ours = build(dict(JPU, mid_channels=8))
    ours.load_state_dict({k.removeprefix('neck.'): v for k, v in converted.items()})
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randn(1, c, s, s, dtype=torch.float64, generator=gen) for c, s in ((16, 9), (32, 5), (64, 3))]
    with torch.no_grad():
        expected, got = source(inputs), ours(inputs)
    assert len(got) == len(expected) == 3
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)


def test_another_layout_or_neck_is_refused_naming_keys():
    model = build_small('psp')
    segtools_layout = {key: torch.zeros(1) for key in model.state_dict()}
    with pytest.raises(ConversionError, match=r'decode_head\.psp\.branches\.0\.conv\.conv\.weight'):
        mmseg.convert(segtools_layout, 'psp')
    assert mmseg.convert_for_model(segtools_layout, model) is None
    jpu_state = mmseg_state('jpu_psp', build_small('jpu_psp').state_dict())
    with pytest.raises(ConversionError, match=r'neck\.conv_layers\.0\.0\.conv\.weight'):
        mmseg.convert(jpu_state, 'psp')
    for unknown in ('jpu_pspnet', 'jpu_fcn'):  # FastFCN comes with PSP, Enc and ASPP heads only
        with pytest.raises(KeyError, match=f"'{unknown}'"):
            mmseg.convert({}, unknown)


def test_arch_for_model_only_knows_mmsegs_heads_and_necks():
    fpn = dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=8, num_outs=4)
    with torch.device('meta'):
        cfg = dict(small_model_cfg('psp'), neck=fpn, decode_head=dict(PSP, in_channels=8), auxiliary_head=None)
        with_fpn = MODELS.build(cfg)
    assert mmseg.arch_for_model(with_fpn) is None
    with torch.device('meta'):
        fcn = dict(SMALL_MODELS['fcn']['decode_head'], in_index=2)
        jpu_fcn = MODELS.build(dict(small_model_cfg('jpu_psp'), decode_head=fcn))
    assert mmseg.arch_for_model(jpu_fcn) is None
    assert mmseg.arch_for_model(torch.nn.Conv2d(1, 1, 1)) is None
