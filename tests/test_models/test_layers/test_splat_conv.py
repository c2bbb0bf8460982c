"""Tests of SplAtConv2d and RSoftmax."""

import pytest
import torch
import torch.nn.functional as F

from segtools.models.layers.drop_block import DropBlock2D
from segtools.models.layers.rf_conv import RFConv2d
from segtools.models.layers.splat_conv import RSoftmax, SplAtConv2d


@pytest.mark.parametrize('groups', [1, 2])
@pytest.mark.parametrize('radix', [2, 4])
def test_rsoftmax_sums_to_one_over_radix(radix, groups):
    C = 8
    x = torch.randn(3, radix * C, 1, 1)
    out = RSoftmax(radix, groups)(x)
    assert out.shape == (3, radix * C)
    per_split = out.reshape(3, radix, C)
    torch.testing.assert_close(per_split.sum(dim=1), torch.ones(3, C))
    # Channel layout of the input: (groups, radix, C / groups).
    expected = F.softmax(x.reshape(3, groups, radix, C // groups), dim=2).transpose(1, 2).reshape(3, -1)
    torch.testing.assert_close(out, expected)


def test_rsoftmax_radix_one_is_sigmoid():
    x = torch.randn(2, 6, 1, 1)
    torch.testing.assert_close(RSoftmax(1, 2)(x), torch.sigmoid(x).reshape(2, -1))


@pytest.mark.parametrize('radix,groups', [(1, 1), (2, 1), (2, 2), (4, 1)])
@pytest.mark.parametrize('stride,dilation', [(1, 1), (2, 1), (1, 2)])
def test_output_shape_and_backward(radix, groups, stride, dilation):
    conv = SplAtConv2d(8, 16, 3, stride=stride, padding=dilation, dilation=dilation, groups=groups, radix=radix)
    x = torch.randn(2, 8, 9, 9, requires_grad=True)
    out = conv(x)
    assert out.shape == (2, 16, (9 - 1) // stride + 1, (9 - 1) // stride + 1)
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert conv.conv.groups == groups * radix and conv.conv.out_channels == 16 * radix
    assert conv.fc1.out_channels == max(8 * radix // 4, 32)


def test_forward_is_attention_weighted_sum_of_splits():
    torch.manual_seed(0)
    radix, C = 2, 4
    conv = SplAtConv2d(4, C, 3, padding=1, radix=radix).eval()
    x = torch.randn(1, 4, 6, 6)
    splits = F.relu(conv.norm0(conv.conv(x))).reshape(1, radix, C, 6, 6)
    gap = splits.sum(dim=1).mean(dim=(2, 3), keepdim=True)
    logits = conv.fc2(F.relu(conv.norm1(conv.fc1(gap)))).reshape(1, radix, C, 1, 1)
    expected = (F.softmax(logits, dim=1) * splits).sum(dim=1)
    torch.testing.assert_close(conv(x), expected)


def test_rectified_conv_and_dropblock():
    conv = SplAtConv2d(8, 8, 3, padding=1, conv_cfg=dict(type=RFConv2d, average_mode=True), dropblock_prob=0.1)
    assert isinstance(conv.conv, RFConv2d) and conv.conv.average_mode
    assert isinstance(conv.dropblock, DropBlock2D)
    assert conv(torch.randn(2, 8, 8, 8)).shape == (2, 8, 8, 8)


def test_invalid_arguments():
    with pytest.raises(ValueError, match='radix'):
        SplAtConv2d(8, 8, 3, radix=0)
    with pytest.raises(ValueError, match='groups'):
        SplAtConv2d(8, 6, 3, groups=4)
