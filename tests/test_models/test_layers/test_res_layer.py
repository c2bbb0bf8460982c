"""Tests of BasicBlock, Bottleneck and ResLayer."""

import pytest
import torch
from torch import nn

from segtools.models.layers.drop_block import DropBlock2D
from segtools.models.layers.res_layer import BasicBlock, Bottleneck, ResLayer
from segtools.models.layers.rf_conv import RFConv2d
from segtools.models.layers.splat_conv import SplAtConv2d


def spatial_convs(layer: nn.Module) -> list[nn.Conv2d]:
    """The 3x3 convs of each block, in block order."""
    convs = []
    for block in layer:
        conv = block.conv2.conv if isinstance(block.conv2, SplAtConv2d) else block.conv2
        convs.append(conv)
    return convs


@pytest.mark.parametrize('block', [BasicBlock, Bottleneck])
@pytest.mark.parametrize('stride', [1, 2])
def test_block_shapes(block, stride):
    planes = 8
    layer = ResLayer(block, 2, 16, planes, stride=stride)
    out = layer(torch.randn(2, 16, 9, 9))
    size = (9 - 1) // stride + 1
    assert out.shape == (2, planes * block.expansion, size, size)
    assert layer.out_channels == planes * block.expansion
    assert layer[0].downsample is not None or (stride == 1 and 16 == planes * block.expansion)
    assert layer[1].downsample is None
    tail = layer[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 1 and tail[0] is layer[1]


@pytest.mark.parametrize(
    'dilation,contract,multi_grid,expected',
    [
        (2, False, None, (2, 2, 2)),
        (2, True, None, (1, 2, 2)),
        (4, True, None, (2, 4, 4)),
        (1, True, None, (1, 1, 1)),
        (2, True, (1, 2, 4), (1, 2, 4)),
    ],
)
def test_dilations_applied(dilation, contract, multi_grid, expected):
    layer = ResLayer(Bottleneck, 3, 16, 4, dilation=dilation, contract_dilation=contract, multi_grid=multi_grid)
    convs = spatial_convs(layer)
    assert [c.dilation for c in convs] == [(d, d) for d in expected]
    assert [c.padding for c in convs] == [(d, d) for d in expected]


def test_multi_grid_length_checked():
    with pytest.raises(ValueError, match='multi_grid'):
        ResLayer(Bottleneck, 3, 16, 4, multi_grid=(1, 2))


@pytest.mark.parametrize('stride', [1, 2])
def test_avg_down_shortcut(stride):
    layer = ResLayer(Bottleneck, 1, 16, 8, stride=stride, avg_down=True)
    pool, conv, _ = layer[0].downsample
    # The pool carries the stride, and stays (as identity) at stride 1 so keys do not move.
    assert isinstance(pool, nn.AvgPool2d) and pool.stride == stride
    assert conv.stride == (1, 1)
    assert layer(torch.randn(1, 16, 8, 8)).shape[-1] == 8 // stride


@pytest.mark.parametrize('avd_first', [False, True])
def test_avd_moves_stride_to_pool(avd_first):
    layer = ResLayer(Bottleneck, 2, 16, 8, stride=2, avd=True, radix=2, avd_first=avd_first)
    first = layer[0]
    assert isinstance(first.avd_layer, nn.AvgPool2d) and first.avd_layer.stride == 2
    assert first.conv2.conv.stride == (1, 1)
    assert layer[1].avd_layer is None
    assert layer(torch.randn(2, 16, 8, 8)).shape == (2, 32, 4, 4)


def test_resnext_width_and_groups():
    block = Bottleneck(64, 64, groups=32, base_width=4)
    assert block.conv2.groups == 32 and block.conv2.out_channels == 64 * 4 // 64 * 32


def test_rectified_conv3x3_and_dropblock():
    block = Bottleneck(16, 4, conv3x3_cfg=dict(type=RFConv2d), dropblock_prob=0.1)
    assert isinstance(block.conv2, RFConv2d) and not isinstance(block.conv1, RFConv2d)
    assert all(isinstance(d, DropBlock2D) for d in (block.dropblock1, block.dropblock2, block.dropblock3))
    # With split attention the middle DropBlock lives inside the SplAt conv.
    splat = Bottleneck(16, 4, radix=2, dropblock_prob=0.1)
    assert splat.dropblock2 is None and isinstance(splat.conv2.dropblock, DropBlock2D)


def test_unknown_block_argument_raises_type_error():
    with pytest.raises(TypeError, match='radixx'):
        ResLayer(Bottleneck, 1, 16, 4, radixx=2)
