"""Tests of conv_rectify: kernel vs reference vs a brute-force masked convolution."""

import warnings

import pytest
import torch
import torch.nn.functional as F

from segtools.ops import _ext
from segtools.ops.rectify import conv_rectify, conv_rectify_reference

from .conftest import DEVICES

# (H, W, kernel, stride, padding, dilation)
GEOMETRIES = [
    ((7, 9), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((8, 5), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((6, 6), (3, 3), (1, 1), (2, 2), (2, 2)),
    ((5, 7), (5, 3), (2, 1), (2, 1), (1, 1)),
    ((1, 1), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((4, 4), (1, 1), (1, 1), (0, 0), (1, 1)),
    ((3, 3), (3, 3), (1, 1), (4, 4), (1, 1)),  # padding wider than the kernel: some outputs see no pixel
]


def brute_force_valid(input_size, kernel_size, stride, padding, dilation) -> torch.Tensor:
    """Counts valid taps by convolving an all-ones image with an all-ones kernel."""
    ones = torch.ones(1, 1, *input_size, dtype=torch.float64)
    kernel = torch.ones(1, 1, *kernel_size, dtype=torch.float64)
    return F.conv2d(ones, kernel, stride=stride, padding=padding, dilation=dilation)[0, 0]


@pytest.mark.parametrize('geometry', GEOMETRIES)
@pytest.mark.parametrize('average', [False, True])
def test_reference_matches_masked_convolution(geometry, average):
    input_size, kernel_size, stride, padding, dilation = geometry
    valid = brute_force_valid(*geometry)
    out = torch.randn(2, 3, *valid.shape, dtype=torch.float64)
    numerator = 1.0 if average else float(kernel_size[0] * kernel_size[1])
    factor = torch.where(valid > 0, numerator / valid.clamp(min=1), torch.ones_like(valid))
    expected = out * factor
    got = conv_rectify_reference(out, input_size, kernel_size, stride, padding, dilation, average)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('geometry', GEOMETRIES)
@pytest.mark.parametrize('average', [False, True])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_kernel_matches_reference(require_ext, device, geometry, average, dtype):
    valid = brute_force_valid(*geometry)
    out = torch.randn(2, 3, *valid.shape, dtype=dtype, device=device, requires_grad=True)
    got = conv_rectify(out, *geometry, average=average)
    ref_in = out.detach().clone().requires_grad_()
    expected = conv_rectify_reference(ref_in, *geometry, average=average)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(got, expected, **tol)
    grad = torch.randn_like(got)
    got.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(out.grad, ref_in.grad, **tol)


def test_kernel_on_non_contiguous_output(require_ext):
    geometry = GEOMETRIES[0]
    base = torch.randn(3, 2, 7, 9, dtype=torch.float64)
    out = base.transpose(0, 1)  # (2, 3, 7, 9), not contiguous
    assert not out.is_contiguous()
    torch.testing.assert_close(conv_rectify(out, *geometry), conv_rectify_reference(out, *geometry))


@pytest.mark.parametrize('average', [False, True])
def test_gradcheck(require_ext, average):
    out = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    geometry = ((4, 5), (3, 3), (1, 1), (1, 1), (1, 1))
    assert torch.autograd.gradcheck(lambda t: conv_rectify(t, *geometry, average=average), (out,))
    assert torch.autograd.gradgradcheck(lambda t: conv_rectify(t, *geometry, average=average), (out,))


def test_invalid_arguments():
    out = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r'output must have shape \(N, C, H_out, W_out\)'):
        conv_rectify(out[0], (4, 4), 3, 1, 1)
    with pytest.raises(ValueError, match='kernel_size must be an int or a pair'):
        conv_rectify(out, (4, 4), (3, 3, 3), 1, 1)
    with pytest.raises(ValueError, match='stride and dilation must be >= 1'):
        conv_rectify(out, (4, 4), 3, 0, 1)
    with pytest.raises(ValueError, match='float32 or float64'):
        conv_rectify(out.long(), (4, 4), 3, 1, 1)


def test_fallback_warns_once(missing_ext):
    out = torch.randn(1, 2, 4, 4)
    geometry = ((4, 4), (3, 3), (1, 1), (1, 1), (1, 1))
    with pytest.warns(RuntimeWarning, match='pip install --no-build-isolation -e .') as record:
        first = conv_rectify(out, *geometry)
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        second = conv_rectify(out, *geometry)
    torch.testing.assert_close(first, conv_rectify_reference(out, *geometry))
    torch.testing.assert_close(second, first)
    assert not _ext.has_ext()


def test_reference_ops_switch(require_ext):
    from segtools.ops import reference_ops

    out = torch.randn(1, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    with reference_ops():
        y = conv_rectify(out, (3, 3), 3, 1, 1)
    assert 'ConvRectifyFunction' not in type(y.grad_fn).__name__
    assert 'ConvRectifyFunction' in type(conv_rectify(out, (3, 3), 3, 1, 1).grad_fn).__name__
