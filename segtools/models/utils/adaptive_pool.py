"""Adaptive average pooling whose bins follow the input size in an exported graph.

``torch.export`` decomposes ``F.adaptive_avg_pool2d`` into several bins for the traced
example's size only: the ONNX model then fixes the height or width, or fails (or is wrong) at
other sizes. The pyramid pooling of PSPNet/UPerNet and DRANet's CPAM pool into 2, 3 and 6 bins,
so while exporting (:func:`segtools.ops._utils.is_exporting`) they take
:func:`adaptive_avg_pool2d_exportable`, which computes the bins from the symbolic size.
Outside export nothing changes: the same ``F.adaptive_avg_pool2d``.
"""

import torch
import torch.nn.functional as F
from torch import nn

from segtools.ops._utils import is_exporting

#: An output side: the number of bins, or ``None`` to keep the input's size.
_Side = int | None


def adaptive_avg_pool2d(x: torch.Tensor, output_size: _Side | tuple[_Side, _Side]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d``, exported with dynamic height and width.

    Args:
        x: Input ``(N, C, H, W)`` or ``(C, H, W)``.
        output_size: ``(h, w)`` bins, or one ``int`` for both; a ``None`` side keeps the input's.

    Returns:
        ``(N, C, h, w)`` (or ``(C, h, w)``), the mean of each bin.
    """
    if is_exporting():
        return adaptive_avg_pool2d_exportable(x, output_size)
    return F.adaptive_avg_pool2d(x, output_size)


def adaptive_avg_pool2d_exportable(x: torch.Tensor, output_size: _Side | tuple[_Side, _Side]) -> torch.Tensor:
    """Adaptive average pooling as two products with bin-averaging matrices built from the size.

    Bin ``i`` of ``b`` over a side of length ``L`` spans ``[floor(i L / b), ceil((i + 1) L / b))``,
    PyTorch's definition (bins overlap when ``L`` is not a multiple of ``b``, and repeat
    positions when ``L < b``). Row ``i`` of the ``(b, L)`` matrix ``A`` holds ``1 / |bin i|`` on
    the bin and 0 elsewhere, so ``A_h x A_w^T`` is the ``(h, w)`` grid of bin means (a
    rectangle's mean is the mean over its rows of the means over its columns). ``A`` comes
    from ``arange(L)`` and tensor arithmetic, so ``L`` stays symbolic in an export; slicing
    with symbolic bounds instead makes ``torch.export`` (non-strict) guard on the bounds and
    refuse the dynamic sizes. The extra work, ``b`` multiply-adds per input element and side,
    is small next to the convolutions. A single bin is a plain mean.

    Args:
        x: Input ``(N, C, H, W)`` or ``(C, H, W)``.
        output_size: ``(h, w)`` bins, or one ``int`` for both; a ``None`` side keeps the input's.

    Returns:
        ``(N, C, h, w)`` (or ``(C, h, w)``), equal to ``F.adaptive_avg_pool2d(x, output_size)``
        up to rounding.
    """
    sides = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(sides) != 2 or any(bins is not None and bins < 1 for bins in sides):
        raise ValueError(f'adaptive_avg_pool2d: output_size must be a positive int or (h, w), got {output_size!r}')
    bins_h, bins_w = sides
    if bins_w is not None:
        x = _pool_last_dim(x, bins_w)
    if bins_h is not None:
        x = _pool_last_dim(x.transpose(-1, -2), bins_h).transpose(-1, -2)
    return x


def _pool_last_dim(x: torch.Tensor, bins: int) -> torch.Tensor:
    """Adaptive average pooling of ``x`` ``(*, L)`` along its last dimension: ``(*, bins)``."""
    if bins == 1:
        return x.mean(-1, keepdim=True)
    # (*, L) @ (L, bins), which aten folds into one (prod(*), L) @ (L, bins) product. The
    # broadcast (bins, L) @ (*, L, W) instead gave torch.export a batch of 1 when the example
    # had one (a constant batch in later reshapes).
    return x @ _bin_means(x.shape[-1], bins, x).transpose(0, 1)


def _bin_means(length: int, bins: int, like: torch.Tensor) -> torch.Tensor:
    """The ``(bins, length)`` matrix averaging each adaptive-pooling bin, in ``like``'s dtype and device."""
    position = torch.arange(length, device=like.device)
    index = torch.arange(bins, device=like.device).unsqueeze(1)
    # ceil(a / b) as (a + b - 1) // b: every operand stays non-negative, where ONNX's integer
    # Div (which truncates) and floor division agree.
    start = (index * length) // bins
    end = ((index + 1) * length + bins - 1) // bins
    inside = (position >= start) & (position < end)
    return inside.to(like.dtype) / (end - start).to(like.dtype)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``nn.AdaptiveAvgPool2d`` through :func:`adaptive_avg_pool2d` (dynamic sizes in an export).

    A drop-in replacement: same arguments, ``repr`` and (empty) state dict.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: ``(N, C, h, w)`` or ``(C, h, w)`` for ``output_size`` ``(h, w)``.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - the parent's argument name
        return adaptive_avg_pool2d(input, self.output_size)
