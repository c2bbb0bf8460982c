"""Tests of BasicBlock, Bottleneck and ResLayer."""

import pytest
import torch
from torch import nn

from segtools.models.layers import res_layer
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


@pytest.mark.parametrize('style,conv1_stride,conv2_stride', [('pytorch', 1, 2), ('caffe', 2, 1)])
@pytest.mark.parametrize('radix', [0, 2])
def test_style_places_the_stride(style, conv1_stride, conv2_stride, radix):
    block = Bottleneck(16, 4, stride=2, style=style, radix=radix, downsample=nn.Conv2d(16, 16, 1, stride=2))
    conv2 = block.conv2.conv if radix else block.conv2
    assert block.conv1.stride == (conv1_stride, conv1_stride)
    assert conv2.stride == (conv2_stride, conv2_stride)
    assert block(torch.randn(2, 16, 9, 9)).shape == (2, 16, 5, 5)


def test_caffe_style_is_refused_with_avd_and_unknown_styles():
    with pytest.raises(ValueError, match="avd.*style='caffe'"):
        Bottleneck(16, 4, stride=2, avd=True, style='caffe')
    with pytest.raises(ValueError, match=r"style must be one of \('pytorch', 'caffe'\), got 'tf'"):
        Bottleneck(16, 4, style='tf')


def test_basic_block_dilates_only_its_first_conv():
    # mmseg's BasicBlock: the second conv keeps dilation 1 (weights of mmseg's dilated R-18/34).
    block = BasicBlock(8, 8, dilation=4)
    assert block.conv1.dilation == (4, 4) and block.conv1.padding == (4, 4)
    assert block.conv2.dilation == (1, 1) and block.conv2.padding == (1, 1)
    assert block(torch.randn(1, 8, 7, 7)).shape == (1, 8, 7, 7)


def twin_layers(block, **kwargs) -> tuple[ResLayer, ResLayer]:
    """Two stages with equal weights, the second checkpointing its blocks."""
    torch.manual_seed(0)
    plain = ResLayer(block, 2, 8, 4, stride=2, with_cp=False, **kwargs)
    cp = ResLayer(block, 2, 8, 4, stride=2, with_cp=True, **kwargs)
    cp.load_state_dict(plain.state_dict())
    return plain, cp


@pytest.mark.parametrize(
    'block,kwargs',
    [(BasicBlock, {}), (Bottleneck, {}), (Bottleneck, dict(radix=2, avd=True)), (Bottleneck, dict(style='caffe'))],
)
def test_with_cp_gives_the_same_outputs_and_gradients(block, kwargs, monkeypatch):
    calls = []
    real = res_layer.checkpoint
    monkeypatch.setattr(res_layer, 'checkpoint', lambda *a, **k: calls.append(1) or real(*a, **k))
    plain, cp = twin_layers(block, **kwargs)
    results = []
    for layer in (plain, cp):
        x = torch.randn(2, 8, 9, 9, generator=torch.Generator().manual_seed(1), requires_grad=True)
        out = layer.train()(x)
        (out * torch.arange(out.numel()).reshape(out.shape).sin()).sum().backward()
        results.append((out.detach(), x.grad, [p.grad for p in layer.parameters()]))
    assert len(calls) == 2  # one per block, only in the with_cp layer
    (out_a, gx_a, gp_a), (out_b, gx_b, gp_b) = results
    torch.testing.assert_close(out_b, out_a)
    torch.testing.assert_close(gx_b, gx_a)
    assert gp_a and all(g is not None for g in gp_a + gp_b)
    for a, b in zip(gp_a, gp_b, strict=True):
        torch.testing.assert_close(b, a)


def test_with_cp_only_checkpoints_in_training_with_grad(monkeypatch):
    calls = []
    real = res_layer.checkpoint
    monkeypatch.setattr(res_layer, 'checkpoint', lambda *a, **k: calls.append(1) or real(*a, **k))
    _, cp = twin_layers(Bottleneck)
    cp.eval()(torch.randn(1, 8, 8, 8, requires_grad=True))
    assert calls == []
    # An input without grad (frozen stem) skips the first block; the second block's
    # input carries the first block's parameters' grad.
    cp.train()(torch.randn(1, 8, 8, 8))
    assert len(calls) == 1
    cp.train()(torch.randn(1, 8, 8, 8, requires_grad=True))
    assert len(calls) == 3
