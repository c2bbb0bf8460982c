"""Split-attention convolution (SplAtConv2d) of ResNeSt.

"ResNeSt: Split-Attention Networks" (Zhang et al., 2020). Module names (``conv``,
``bn0``, ``fc1``, ``bn1``, ``fc2``) follow PyTorch-Encoding's so its checkpoints map
key by key when the norm is a batch norm.
"""

import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from torch import nn

from .drop_block import DropBlock2D
from .sync_bn import norm_relu


class RSoftmax(nn.Module):
    """Radix-major softmax: a softmax across the ``radix`` splits of each cardinal group.

    With ``radix == 1`` there is nothing to normalise against, so it is a sigmoid
    gate (squeeze-and-excitation).

    Args:
        radix: Number of splits ``R``.
        groups: Cardinality ``G``.

    Shape:
        - Input: ``(N, R * C, 1, 1)``, channels laid out as ``(G, R, C / G)``.
        - Output: ``(N, R * C)``, laid out as ``(R, C)``, the split-major order of
          the grouped convolution's output; sums to 1 over ``R`` when ``R > 1``.
    """

    def __init__(self, radix: int, groups: int) -> None:
        super().__init__()
        self.radix = radix
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N = x.size(0)
        if self.radix == 1:
            return torch.sigmoid(x).reshape(N, -1)
        x = x.reshape(N, self.groups, self.radix, -1).transpose(1, 2)
        return F.softmax(x, dim=1).reshape(N, -1)

    def extra_repr(self) -> str:
        return f'radix={self.radix}, groups={self.groups}'


class SplAtConv2d(nn.Module):
    """Split-attention convolution.

    A grouped conv produces ``R`` splits of ``C`` channels (``G * R`` groups), each
    normalised and activated; their sum is pooled globally and passed through a
    two-layer bottleneck MLP (1x1 convs grouped by ``G``, hidden width
    ``max(C_in * R // reduction_factor, 32)``) whose :class:`RSoftmax` weights the
    splits. The output is the weighted sum of the splits.

    Args:
        in_channels: Input channels ``C_in``.
        channels: Output channels ``C``.
        kernel_size: Kernel size of the grouped conv.
        stride: Its stride.
        padding: Its padding.
        dilation: Its dilation.
        groups: Cardinality ``G``.
        bias: Whether the grouped conv has a bias.
        radix: Number of splits ``R`` (>= 1).
        reduction_factor: Reduction of the attention MLP.
        conv_cfg: Config of the grouped conv (``dict(type='RFConv2d',
            average_mode=...)`` for ResNeSt's rectified conv); the 1x1 attention
            convs are always plain.
        norm_cfg: Norm after the grouped conv and inside the MLP.
        dropblock_prob: DropBlock (block 3) after the first norm; 0 for none.

    Shape:
        - Input: ``(N, C_in, H, W)``.
        - Output: ``(N, C, H_out, W_out)`` with the conv's output size.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        radix: int = 2,
        reduction_factor: int = 4,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        dropblock_prob: float = 0.0,
    ) -> None:
        super().__init__()
        if radix < 1:
            raise ValueError(f'SplAtConv2d: radix must be >= 1, got {radix}')
        if channels % groups:
            raise ValueError(f'SplAtConv2d: channels ({channels}) must be divisible by groups ({groups})')
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        inter_channels = max(in_channels * radix // reduction_factor, 32)
        self.radix = radix
        self.channels = channels
        self.conv = build_conv_layer(
            conv_cfg,
            in_channels,
            channels * radix,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups * radix,
            bias=bias,
        )
        self.norm0_name, norm0 = build_norm_layer(norm_cfg, channels * radix, postfix=0)
        self.add_module(self.norm0_name, norm0)
        self.dropblock = DropBlock2D(dropblock_prob, 3) if dropblock_prob > 0 else None
        self.fc1 = nn.Conv2d(channels, inter_channels, 1, groups=groups)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, inter_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.fc2 = nn.Conv2d(inter_channels, channels * radix, 1, groups=groups)
        self.rsoftmax = RSoftmax(radix, groups)

    @property
    def norm0(self) -> nn.Module:
        return getattr(self, self.norm0_name)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Split-attention convolution of ``x`` of shape ``(N, C_in, H, W)``."""
        if self.dropblock is None:
            x = norm_relu(self.norm0, self.conv(x))
        else:
            x = F.relu(self.dropblock(self.norm0(self.conv(x))), inplace=True)
        N = x.size(0)
        splits = x.reshape(N, self.radix, self.channels, *x.shape[-2:])
        gap = F.adaptive_avg_pool2d(splits.sum(dim=1), 1)
        gap = norm_relu(self.norm1, self.fc1(gap))
        attention = self.rsoftmax(self.fc2(gap)).reshape(N, self.radix, self.channels, 1, 1)
        return (attention * splits).sum(dim=1)
