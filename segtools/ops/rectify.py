"""Rectified convolution: rescale a zero-padded convolution's output by its valid taps.

From ResNeSt ("ResNeSt: Split-Attention Networks", Zhang et al., 2020), the
``rectify`` op of PyTorch-Encoding. Zero padding makes border outputs sums over
fewer real pixels; rectification rescales each output by
``(kh * kw) / valid`` (or divides by ``valid`` in average mode), where ``valid``
counts the kernel taps that land inside the un-padded input.
"""

from collections.abc import Sequence

import torch

from ._ext import get_ext
from ._utils import check_tensor

Pair = tuple[int, int]


def _pair(name: str, value: int | Sequence[int]) -> Pair:
    if isinstance(value, int):
        return (value, value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f'conv_rectify: {name} must be an int or a pair of ints (h, w), got {value!r}')
    return (int(value[0]), int(value[1]))


def _valid_taps(
    out_size: int, in_size: int, kernel: int, stride: int, pad: int, dilation: int, device: torch.device
) -> torch.Tensor:
    """Per output index, the count of kernel taps inside ``[0, in_size)``, shape ``(out_size,)``."""
    pos = (
        torch.arange(out_size, device=device)[:, None] * stride
        - pad
        + torch.arange(kernel, device=device)[None, :] * dilation
    )
    return ((pos >= 0) & (pos < in_size)).sum(dim=1)


def conv_rectify_reference(
    output: torch.Tensor,
    input_size: Pair,
    kernel_size: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    average: bool = False,
) -> torch.Tensor:
    """Plain-PyTorch rectification.

    ``factor[oh, ow] = (kh * kw if not average else 1) / (rows[oh] * cols[ow])`` where
    ``rows[oh] = #{i < kh : 0 <= oh * sh - ph + i * dh < H}`` (``cols`` likewise);
    positions with no valid tap keep factor 1.

    Args:
        output: Convolution output, shape ``(N, C, H_out, W_out)``.
        input_size: ``(H, W)`` of the un-padded convolution input.
        kernel_size: ``(kh, kw)``.
        stride: ``(sh, sw)``.
        padding: ``(ph, pw)``.
        dilation: ``(dh, dw)``.
        average: Divide by the valid count instead of rescaling to the full kernel.

    Returns:
        The rescaled output, shape ``(N, C, H_out, W_out)``.
    """
    out_h, out_w = output.shape[-2:]
    rows = _valid_taps(out_h, input_size[0], kernel_size[0], stride[0], padding[0], dilation[0], output.device)
    cols = _valid_taps(out_w, input_size[1], kernel_size[1], stride[1], padding[1], dilation[1], output.device)
    valid = (rows[:, None] * cols[None, :]).to(torch.float64)
    numerator = 1.0 if average else float(kernel_size[0] * kernel_size[1])
    factor = torch.where(valid > 0, numerator / valid.clamp(min=1), torch.ones_like(valid))
    return output * factor.to(output.dtype)


class ConvRectifyFunction(torch.autograd.Function):
    """Rectification by the compiled kernel; its backward applies the same factors."""

    @staticmethod
    def forward(ctx, output: torch.Tensor, geometry: tuple, ext) -> torch.Tensor:
        ctx.geometry = geometry
        ctx.ext = ext
        return ext.conv_rectify(output, *geometry)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return ConvRectifyFunction.apply(grad, ctx.geometry, ctx.ext), None, None


def conv_rectify(
    output: torch.Tensor,
    input_size: int | Sequence[int],
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    average: bool = False,
) -> torch.Tensor:
    """Rescales a convolution output by the count of its taps inside the input.

    Args:
        output: Convolution output, shape ``(N, C, H_out, W_out)``.
        input_size: ``(H, W)`` of the un-padded convolution input.
        kernel_size: Kernel size, an int or ``(kh, kw)``.
        stride: Stride, an int or ``(sh, sw)``.
        padding: Zero padding, an int or ``(ph, pw)``.
        dilation: Dilation, an int or ``(dh, dw)``.
        average: Divide by the valid count (average mode) instead of rescaling
            by ``(kh * kw) / valid``.

    Returns:
        The rescaled output, shape ``(N, C, H_out, W_out)``; differentiable.
    """
    check_tensor('conv_rectify', 'output', output, '(N, C, H_out, W_out)', 4)
    geometry = (
        _pair('input_size', input_size),
        _pair('kernel_size', kernel_size),
        _pair('stride', stride),
        _pair('padding', padding),
        _pair('dilation', dilation),
        bool(average),
    )
    if min(geometry[1] + geometry[2] + geometry[4]) < 1 or min(geometry[3]) < 0:
        raise ValueError(
            f'conv_rectify: kernel_size, stride and dilation must be >= 1 and padding >= 0, got '
            f'kernel_size={geometry[1]}, stride={geometry[2]}, padding={geometry[3]}, '
            f'dilation={geometry[4]}'
        )
    ext = get_ext('conv_rectify', output.device)
    if ext is None:
        return conv_rectify_reference(output, *geometry)
    return ConvRectifyFunction.apply(output, geometry, ext)


__all__ = ['conv_rectify', 'conv_rectify_reference', 'ConvRectifyFunction']
