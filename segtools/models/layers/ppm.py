"""Pooled-context blocks: one image-pooling branch and the pyramid pooling module.

The pyramid pooling module is PSPNet's ("Pyramid Scene Parsing Network", Zhao et al., CVPR
2017); PSPHead and UPerHead use it. A single :class:`ImagePooling` branch with ``pool_scale=1``
is the image-level branch of ASPP and PyTorch-Encoding's ``GlobalPooling`` (FCN ``with_global``,
ATTEN).
"""

from collections.abc import Sequence

import torch
from torch import nn

from segtools.models.utils import AdaptiveAvgPool2d, resize

from .conv_module import ConvModule

# Shared defaults, never mutated (configs are copied before use).
_RELU = dict(type='ReLU')


class ImagePooling(nn.Module):
    """Adaptive average pooling to ``pool_scale x pool_scale``, a 1x1 ConvModule, upsampling back.

    Args:
        in_channels: Input channels ``C``.
        channels: Output channels.
        pool_scale: Side of the pooled grid (1: global average pooling).
        conv_cfg: Conv config of the 1x1 ConvModule.
        norm_cfg: Norm config of the 1x1 ConvModule.
        act_cfg: Activation config of the 1x1 ConvModule.
        align_corners: ``align_corners`` of the bilinear upsampling.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        *,
        pool_scale: int = 1,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = _RELU,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        self.pool_scale = pool_scale
        self.align_corners = align_corners
        self.pool = AdaptiveAvgPool2d(pool_scale)
        self.conv = ConvModule(in_channels, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.conv(self.pool(x))
        # A 1x1 map is constant over the image: expanding it is exact and cheaper than interpolating.
        if self.pool_scale == 1:
            return pooled.expand(-1, -1, *x.shape[2:])
        return resize(pooled, x.shape[2:], align_corners=self.align_corners)


class PyramidPoolingModule(nn.Module):
    """Pyramid pooling: the input concatenated with one :class:`ImagePooling` branch per scale.

    PyTorch-Encoding and MMSegmentation both use scales (1, 2, 3, 6) with 512 channels per
    branch on a 2048-channel input, so the output has 4096 channels.

    Args:
        in_channels: Input channels ``C``.
        channels: Output channels of each pooling branch.
        pool_scales: Pooled grid side of each branch.
        conv_cfg: Conv config of the branches.
        norm_cfg: Norm config of the branches.
        act_cfg: Activation config of the branches.
        align_corners: ``align_corners`` of the upsampling.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, out_channels, H, W)`` with
          ``out_channels = C + len(pool_scales) * channels``, the input first.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        *,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = _RELU,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        if not pool_scales:
            raise ValueError('PyramidPoolingModule: pool_scales must not be empty')
        self.pool_scales = tuple(pool_scales)
        self.out_channels = in_channels + len(self.pool_scales) * channels
        self.branches = nn.ModuleList(
            ImagePooling(
                in_channels,
                channels,
                pool_scale=scale,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                align_corners=align_corners,
            )
            for scale in self.pool_scales
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x] + [branch(x) for branch in self.branches], dim=1)
