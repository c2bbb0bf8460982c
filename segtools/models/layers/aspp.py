"""Atrous spatial pyramid pooling ("Rethinking Atrous Convolution for Semantic Image
Segmentation", Chen et al., 2017: DeepLabV3)."""

from collections.abc import Sequence

import torch
from mmcv.cnn import DepthwiseSeparableConvModule
from torch import nn

from .conv_module import ConvModule
from .ppm import ImagePooling

# Shared defaults, never mutated (configs are copied before use).
_RELU = dict(type='ReLU')


class ASPP(nn.Module):
    """Parallel branches over one feature map, concatenated: image pooling, then one per dilation.

    A dilation of 1 gives a 1x1 conv, any other a 3x3 atrous conv with that rate (with
    ``separable``, DeepLabV3+'s depthwise separable one: a depthwise 3x3 and a pointwise 1x1,
    each with norm and activation). DeepLabV3 at output stride 8 uses dilations (1, 12, 24, 36):
    the 1x1 branch plus rates 12, 24, 36 (PyTorch-Encoding and MMSegmentation's ``-d8`` configs).

    Args:
        in_channels: Input channels ``C``.
        channels: Output channels of each branch.
        dilations: Dilation of each conv branch.
        conv_cfg: Conv config of the branches.
        norm_cfg: Norm config of the branches.
        act_cfg: Activation config of the branches.
        align_corners: ``align_corners`` of the image-pooling upsampling.
        separable: Depthwise separable atrous branches (DeepLabV3+).

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, out_channels, H, W)``, ``out_channels = (len(dilations) + 1) * channels``,
          the image-pooling branch first.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        *,
        dilations: Sequence[int] = (1, 12, 24, 36),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = _RELU,
        align_corners: bool = False,
        separable: bool = False,
    ) -> None:
        super().__init__()
        if not dilations or any(d < 1 for d in dilations):
            raise ValueError(f'ASPP: dilations must be a non-empty sequence of ints >= 1, got {dilations!r}')
        self.dilations = tuple(dilations)
        self.out_channels = (len(self.dilations) + 1) * channels
        self.image_pool = ImagePooling(
            in_channels, channels, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, align_corners=align_corners
        )
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.branches = nn.ModuleList(
            ConvModule(in_channels, channels, 1, **common)
            if d == 1
            else (DepthwiseSeparableConvModule if separable else ConvModule)(
                in_channels, channels, 3, padding=d, dilation=d, **common
            )
            for d in self.dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.image_pool(x)] + [branch(x) for branch in self.branches], dim=1)
