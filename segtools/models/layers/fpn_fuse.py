"""Feature-pyramid fusion shared by UPerHead ("Unified Perceptual Parsing", Xiao et al., ECCV
2018) and PyTorch-Encoding's FCFPN head (after "Feature Pyramid Networks", Lin et al., CVPR
2017)."""

from collections.abc import Sequence

import torch
from torch import nn

from segtools.models.utils import resize

from .conv_module import ConvModule

# Shared defaults, never mutated (configs are copied before use).
_RELU = dict(type='ReLU')


class FPNFusion(nn.Module):
    """Top-down pyramid over the lower levels, then every level upsampled and concatenated.

    The caller maps the top (coarsest) level to ``channels`` (UPer: pyramid pooling + 3x3;
    FCFPN: a 3x3 conv). Each lower level ``i`` gets a 1x1 lateral conv; from the top down,
    ``p_i = lateral_i + up(p_{i+1})``; each ``p_i`` below the top goes through a 3x3 conv;
    all levels are upsampled to the finest and concatenated, finest first.

    Args:
        in_channels: Channels of the lower levels, finest first (one fewer than the levels).
        channels: Channels of every pyramid level.
        conv_cfg: Conv config of the lateral and output convs.
        norm_cfg: Norm config of the lateral and output convs.
        act_cfg: Activation config of the lateral and output convs.
        align_corners: ``align_corners`` of the upsampling.

    Shape:
        - Input: ``lower`` (one ``(N, in_channels[i], H_i, W_i)`` per lower level), ``top``
          ``(N, channels, H_top, W_top)``.
        - Output: ``(N, out_channels, H_0, W_0)``, ``out_channels = (len(in_channels) + 1) * channels``.
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
        self.align_corners = align_corners
        self.out_channels = (len(in_channels) + 1) * channels
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.lateral_convs = nn.ModuleList(ConvModule(c, channels, 1, **common) for c in in_channels)
        self.fpn_convs = nn.ModuleList(ConvModule(channels, channels, 3, padding=1, **common) for _ in in_channels)

    def forward(self, lower: Sequence[torch.Tensor], top: torch.Tensor) -> torch.Tensor:
        if len(lower) != len(self.lateral_convs):
            raise ValueError(f'FPNFusion: expected {len(self.lateral_convs)} lower levels, got {len(lower)}')
        levels = [conv(x) for conv, x in zip(self.lateral_convs, lower, strict=True)] + [top]
        for i in range(len(levels) - 1, 0, -1):
            levels[i - 1] = levels[i - 1] + resize(levels[i], levels[i - 1].shape[2:], align_corners=self.align_corners)
        outs = [conv(p) for conv, p in zip(self.fpn_convs, levels[:-1], strict=True)] + [levels[-1]]
        size = outs[0].shape[2:]
        return torch.cat([resize(p, size, align_corners=self.align_corners) for p in outs], dim=1)
