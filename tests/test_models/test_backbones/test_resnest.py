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


def test_classification_head_with_final_drop():
    model = ResNeSt(50, num_classes=7, final_drop=0.2, **TINY)
    assert isinstance(model.drop, nn.Dropout)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='50, 101, 200, 269'):
        ResNeSt(152)
    with pytest.raises(TypeError, match='bottleneck_widht'):
        ResNeSt(50, bottleneck_widht=64)
