"""Rectified 2-D convolution (RFConv2d) of ResNeSt."""

import torch
from torch import nn

from segtools.ops.rectify import conv_rectify
from segtools.registry import MODELS


@MODELS.register_module()
class RFConv2d(nn.Conv2d):
    """A ``Conv2d`` whose zero-padded border outputs are rectified.

    From "ResNeSt: Split-Attention Networks" (Zhang et al., 2020): each output is
    rescaled by ``(kh * kw) / valid`` where ``valid`` counts the kernel taps inside
    the un-padded input, so borders are not darkened by the zero padding. In
    ``average_mode`` the output is divided by ``valid`` instead (with an all-ones
    kernel this is an average over the real pixels). Without padding every tap is
    valid and, outside average mode, the layer equals ``Conv2d``.

    Registered in ``MODELS`` so configs can use ``conv_cfg=dict(type='RFConv2d')``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel size.
        stride: Stride.
        padding: Zero padding (only ``padding_mode='zeros'`` is meaningful here).
        dilation: Dilation.
        groups: Groups.
        bias: Whether to add a bias (added before rectification, as in ResNeSt).
        average_mode: Divide by the valid count instead of rescaling.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        average_mode: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        if isinstance(self.padding, str):
            raise ValueError(f'RFConv2d: padding must be an int or a pair, got {padding!r}')
        self.average_mode = average_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolves and rectifies.

        Args:
            x: Input, shape ``(N, C_in, H, W)``.

        Returns:
            Output, shape ``(N, C_out, H_out, W_out)``.
        """
        out = super().forward(x)
        if not self.average_mode and self.padding == (0, 0):
            return out
        return conv_rectify(
            out, x.shape[-2:], self.kernel_size, self.stride, self.padding, self.dilation, self.average_mode
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + f', average_mode={self.average_mode}'
