"""Lateral fusion of EncNet ("Context Encoding for Semantic Segmentation", Zhang et al., CVPR 2018),
also used by PyTorch-Encoding's ATTEN head."""

from collections.abc import Sequence

import torch
from torch import nn

from segtools.models.utils import resize

from .conv_module import ConvModule

# Shared defaults, never mutated (configs are copied before use).
_RELU = dict(type='ReLU')


class LateralFusion(nn.Module):
    """Brings finer backbone levels into a head's main feature map.

    Each lateral input ``i`` goes through a 1x1 ConvModule to ``channels`` and is resized to
    the main map's size; ``[main, lateral_0, lateral_1, ...]`` are concatenated (main first,
    as PyTorch-Encoding does) and a 3x3 ConvModule fuses them back to ``channels``.
    PyTorch-Encoding's ``lateral`` (EncNet on Pascal datasets, ATTEN's ``with_lateral``)
    takes c2 and c3 next to the conv5 output; with a dilated backbone they share its
    stride, so the resize only matters for other backbones.

    Args:
        in_channels: Channels of the lateral inputs, in the order they are passed.
        channels: Channels of the main map and of the output.
        conv_cfg: Conv config of the lateral and fusion convs.
        norm_cfg: Norm config of the lateral and fusion convs.
        act_cfg: Activation config of the lateral and fusion convs.
        align_corners: ``align_corners`` of the resize.

    Shape:
        - Input: ``main`` ``(N, channels, H, W)``; ``laterals``, one ``(N, in_channels[i], H_i, W_i)``
          per lateral.
        - Output: ``(N, channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int,
        *,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = _RELU,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        if not in_channels:
            raise ValueError('LateralFusion: in_channels must name at least one lateral input')
        self.align_corners = align_corners
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.lateral_convs = nn.ModuleList(ConvModule(c, channels, 1, **common) for c in in_channels)
        self.fusion = ConvModule((len(in_channels) + 1) * channels, channels, 3, padding=1, **common)

    def forward(self, main: torch.Tensor, laterals: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(laterals) != len(self.lateral_convs):
            raise ValueError(f'LateralFusion: expected {len(self.lateral_convs)} lateral inputs, got {len(laterals)}')
        size = main.shape[2:]
        projected = [
            resize(conv(x), size, align_corners=self.align_corners)
            for conv, x in zip(self.lateral_convs, laterals, strict=True)
        ]
        return self.fusion(torch.cat([main, *projected], dim=1))
