"""Tests of RFConv2d."""

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer
from mmengine.registry import DefaultScope

from segtools.models.layers.rf_conv import RFConv2d


def masked_conv(conv: torch.nn.Conv2d, x: torch.Tensor, average: bool) -> torch.Tensor:
    """Brute force: the output is rescaled by taps / (conv of a ones image with a ones kernel)."""
    out = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    ones = torch.ones(1, 1, *x.shape[-2:], dtype=x.dtype)
    valid = F.conv2d(
        ones, torch.ones(1, 1, *conv.kernel_size, dtype=x.dtype), None, conv.stride, conv.padding, conv.dilation
    )
    taps = 1.0 if average else float(conv.kernel_size[0] * conv.kernel_size[1])
    return out * torch.where(valid > 0, taps / valid.clamp(min=1), torch.ones_like(valid))


@pytest.mark.parametrize('average', [False, True])
@pytest.mark.parametrize('stride,padding,dilation', [(1, 1, 1), (2, 1, 1), (1, 2, 2)])
def test_matches_masked_convolution(average, stride, padding, dilation):
    conv = RFConv2d(3, 4, 3, stride=stride, padding=padding, dilation=dilation, average_mode=average).double()
    x = torch.randn(2, 3, 9, 7, dtype=torch.float64)
    torch.testing.assert_close(conv(x), masked_conv(conv, x, average))


def test_no_padding_equals_conv2d():
    conv = RFConv2d(3, 4, 3, padding=0)
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, conv.bias))


def test_backward_reaches_weights():
    conv = RFConv2d(2, 2, 3, padding=1)
    conv(torch.randn(1, 2, 5, 5)).square().sum().backward()
    assert conv.weight.grad is not None and torch.isfinite(conv.weight.grad).all()
    assert conv.weight.grad.abs().sum() > 0


def test_built_from_conv_cfg():
    with DefaultScope.overwrite_default_scope('segtools'):
        conv = build_conv_layer(dict(type='RFConv2d', average_mode=True), 3, 8, 3, padding=1)
    assert isinstance(conv, RFConv2d) and conv.average_mode
    assert 'average_mode=True' in repr(conv)
