"""Tests of ResNeSt."""

import pytest
import torch
from torch import nn

from segtools.models.backbones.resnest import ResNeSt
from segtools.models.layers.drop_block import DropBlock2D
from segtools.models.layers.rf_conv import RFConv2d
from segtools.models.layers.splat_conv import SplAtConv2d

TINY = dict(base_channels=8, stem_channels=16)
OUTPUT_STRIDES = {
    32: ((1, 2, 2, 2), (1, 1, 1, 1), False),
    16: ((1, 2, 2, 1), (1, 1, 1, 2), False),
    8: ((1, 2, 1, 1), (1, 1, 2, 4), True),
}


@pytest.mark.parametrize('depth,millions', [(50, 27.5), (101, 48.3), (200, 70.2), (269, 110.9)])
def test_imagenet_parameter_counts(depth, millions):
    with torch.device('meta'):
        model = ResNeSt(depth, num_classes=1000)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert count == pytest.approx(millions, rel=0.005)


@pytest.mark.parametrize('depth,stem', [(50, 64), (101, 128)])
def test_stem_width_depends_on_depth(depth, stem):
    with torch.device('meta'):
        model = ResNeSt(depth)
    assert model.stem[6].out_channels == stem


@pytest.mark.parametrize('output_stride', sorted(OUTPUT_STRIDES))
def test_output_shapes_and_backward(output_stride):
    strides, dilations, contract = OUTPUT_STRIDES[output_stride]
    model = ResNeSt(50, strides=strides, dilations=dilations, contract_dilation=contract, **TINY)
    assert model.out_channels == (32, 64, 128, 256)
    assert model.out_strides[-1] == output_stride
    outs = model(torch.randn(2, 3, 64, 64))
    assert [o.shape[1:] for o in outs] == [
        (c, 64 // s, 64 // s) for c, s in zip(model.out_channels, model.out_strides, strict=True)
    ]
    sum(o.mean() for o in outs).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_split_attention_and_avd_layout():
    model = ResNeSt(50, radix=2, **TINY)
    blocks = [b for name in ('layer1', 'layer2', 'layer3', 'layer4') for b in getattr(model, name)]
    assert blocks and all(isinstance(b.conv2, SplAtConv2d) and b.conv2.radix == 2 for b in blocks)
    # avd in the first block of every stage but the first, also when dilation replaces the stride.
    firsts = [getattr(model, f'layer{i}')[0] for i in range(1, 5)]
    assert firsts[0].avd_layer is None
    assert all(isinstance(b.avd_layer, nn.AvgPool2d) for b in firsts[1:])
    assert all(b.avd_layer is None for name in ('layer2', 'layer3') for b in getattr(model, name)[1:])


def test_rectified_conv_uses_rfconv2d():
    model = ResNeSt(50, rectified_conv=True, rectify_avg=True, **TINY)
    rf = [m for m in model.modules() if isinstance(m, RFConv2d)]
    # Three stem convs plus the split-attention conv of each of the 16 blocks; 1x1 convs stay plain.
    assert len(rf) == 3 + 16 and all(m.average_mode for m in rf)
    assert all(m.padding != (0, 0) for m in rf)
    assert model.eval()(torch.randn(1, 3, 32, 32))[-1].shape == (1, 256, 1, 1)


def test_dropblock_only_in_last_two_stages():
    model = ResNeSt(50, dropblock_prob=0.1, **TINY)
    counts = {
        name: sum(isinstance(m, DropBlock2D) for m in getattr(model, name).modules()) for name in model.res_layers
    }
    # Per block: after conv1, inside the split-attention conv, after conv3.
    assert counts == {'layer1': 0, 'layer2': 0, 'layer3': 3 * 6, 'layer4': 3 * 3}
    assert model.train()(torch.randn(2, 3, 32, 32))[-1].shape == (2, 256, 1, 1)


def test_radix_one_and_avd_first():
    model = ResNeSt(50, radix=1, avd_first=True, **TINY)
    assert model.layer2[0].conv2.radix == 1 and model.layer2[0].avd_first
    assert model.eval()(torch.randn(1, 3, 32, 32))[1].shape == (1, 64, 4, 4)


def test_last_gamma_zero_initialises_residual_norms():
    model = ResNeSt(50, last_gamma=True, **TINY)
    model.init_weights()
    norms = [b.norm3 for name in model.res_layers for b in getattr(model, name)]
    assert norms and all(torch.all(n.weight == 0) for n in norms)
    # Exactly those: every other norm (stem, split attention, shortcut, norm1/2) keeps weight 1.
    last = {id(n) for n in norms}
    others = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in last]
    assert others and all(torch.all(m.weight == 1) for m in others)
    without = ResNeSt(50, **TINY)
    without.init_weights()
    assert all(torch.all(b.norm3.weight == 1) for name in without.res_layers for b in getattr(without, name))


def test_classification_head_with_final_drop():
    model = ResNeSt(50, num_classes=7, final_drop=0.2, **TINY)
    assert isinstance(model.drop, nn.Dropout)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='50, 101, 152, 200, 269'):
        ResNeSt(34)
    with pytest.raises(TypeError, match='bottleneck_widht'):
        ResNeSt(50, bottleneck_widht=64)


def test_depth_152_as_in_mmseg():
    with torch.device('meta'):
        model = ResNeSt(152)
    assert [len(getattr(model, name)) for name in model.res_layers] == [3, 8, 36, 3]
    assert model.out_channels == (256, 512, 1024, 2048)


@pytest.mark.parametrize('output_stride', [8, 32])
def test_avg_down_stride_pools_only_the_strided_blocks(output_stride):
    # mmseg's avg_down_stride: no pool where dilation replaces the stride (avd pools there).
    strides, dilations, contract = OUTPUT_STRIDES[output_stride]
    kwargs = dict(strides=strides, dilations=dilations, contract_dilation=contract, **TINY)
    model = ResNeSt(50, avg_down_stride=True, **kwargs)
    firsts = [getattr(model, name)[0] for name in model.res_layers]
    assert [b.avd_layer is not None for b in firsts] == [False] + [s > 1 for s in strides[1:]]
    assert all(b.conv2.conv.stride == (1, 1) for b in firsts)
    outs = model(torch.randn(2, 3, 32, 32))
    assert [o.shape[-1] for o in outs] == [32 // s for s in model.out_strides]


def test_avg_down_stride_false_strides_the_split_attention_conv():
    model = ResNeSt(50, avg_down_stride=False, **TINY)
    assert all(b.avd_layer is None for name in model.res_layers for b in getattr(model, name))
    assert model.layer2[0].conv2.conv.stride == (2, 2)


def test_caffe_style():
    with pytest.raises(ValueError, match="avd moves the 3x3 conv's stride .* style='caffe'"):
        ResNeSt(50, style='caffe', **TINY)
    model = ResNeSt(50, style='caffe', avg_down_stride=True, **TINY)
    assert model.layer2[0].conv1.stride == (2, 2) and model.layer2[0].avd_layer is None
    assert model.out_strides == (4, 8, 16, 32)


@pytest.mark.parametrize('groups,base_width,planes_to_width', [(1, 4, 1), (2, 4, 1), (2, 8, 2), (4, 4, 2)])
def test_mmseg_base_width_is_measured_at_base_channels(groups, base_width, planes_to_width):
    # mmseg: width = planes * base_width // base_channels * groups, or planes with groups=1.
    model = ResNeSt(50, groups=groups, base_width=base_width, base_channels=8, stem_channels=16)
    for i, name in enumerate(model.res_layers):
        assert getattr(model, name)[0].conv2.channels == 8 * 2**i * planes_to_width


def test_mmseg_arguments_exclude_their_pytorch_encoding_twins():
    with pytest.raises(ValueError, match='bottleneck_width .* or base_width .*, not both'):
        ResNeSt(50, bottleneck_width=32, base_width=4)
    with pytest.raises(ValueError, match='avd .* or avg_down_stride .*, not both'):
        ResNeSt(50, avd=True, avg_down_stride=True)


def test_zero_init_residual_is_last_gamma():
    model = ResNeSt(50, zero_init_residual=True, **TINY)
    model.init_weights()
    assert all(torch.all(b.norm3.weight == 0) for name in model.res_layers for b in getattr(model, name))
