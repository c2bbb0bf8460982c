"""Compact attention and the cross-level gating decoder of DRANet ("Scene Segmentation with
Dual Relation-aware Attention Network", Fu et al., IEEE TNNLS 2020).

DANet's PAM/CAM compare every position (channel) with every other, ``O(N^2)`` in memory.
DRANet compares them with a *compact* set instead:

- CPAM: positions attend to ``K = sum(s^2)`` pyramid-pooled region descriptors
  (scales 1, 2, 3, 6: ``K = 50``), ``O(N K)``.
- CCAM: channels attend to ``C / r`` compact channels from a 1x1 conv (``r = 16``).
- CLGD: the low-level features (stride 4) are gated by an attention map computed from both
  levels, then fused with the upsampled high-level features.

Both attention decoders end in ``x + scale * attended`` with ``scale`` initialised to 0.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segtools.models.utils import AdaptiveAvgPool2d, resize

from .conv_module import ConvModule

# Shared defaults, never mutated (configs are copied before use).
_RELU = dict(type='ReLU')


class CPAMEnc(nn.Module):
    """CPAM encoder: pyramid-pooled region descriptors, each through a 1x1 ConvModule.

    Args:
        channels: Channels ``C`` (kept).
        pool_scales: Sides of the pooled grids; ``K = sum(s * s)`` descriptors.
        conv_cfg: Conv config of the 1x1 ConvModules.
        norm_cfg: Norm config of the 1x1 ConvModules.
        act_cfg: Activation config of the 1x1 ConvModules.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, K, C)``, the descriptors of the scales in order.
    """

    def __init__(
        self,
        channels: int,
        *,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = _RELU,
    ) -> None:
        super().__init__()
        if not pool_scales:
            raise ValueError('CPAMEnc: pool_scales must not be empty')
        self.num_regions = sum(s * s for s in pool_scales)
        self.stages = nn.ModuleList(
            nn.Sequential(
                AdaptiveAvgPool2d(s),
                ConvModule(channels, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg),
            )
            for s in pool_scales
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([stage(x).flatten(2) for stage in self.stages], dim=2).transpose(1, 2)


class CPAMDec(nn.Module):
    """CPAM decoder: every position attends to the ``K`` region descriptors.

    Queries are a 1x1 conv of ``x`` to ``key_channels``; keys and values are linear maps of
    the descriptors ``y`` to ``key_channels`` and ``C``. ``A = softmax_k(q_i . k_k)``;
    ``out_i = x_i + scale * sum_k A_ik v_k``.

    Args:
        channels: Channels ``C``.
        key_channels: Channels of queries and keys; ``C // 4`` (DRANet) when ``None``.

    Shape:
        - Input: ``x`` ``(N, C, H, W)``, ``y`` ``(N, K, C)`` from :class:`CPAMEnc`.
        - Output: ``(N, C, H, W)``.
    """

    def __init__(self, channels: int, key_channels: int | None = None) -> None:
        super().__init__()
        key_channels = key_channels or max(channels // 4, 1)
        self.query_conv = nn.Conv2d(channels, key_channels, 1)
        self.key_linear = nn.Linear(channels, key_channels)
        self.value_linear = nn.Linear(channels, channels)
        self.scale = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        query = self.query_conv(x).flatten(2).transpose(1, 2)  # (B, N, Ck)
        key = self.key_linear(y).transpose(1, 2)  # (B, Ck, K)
        attention = F.softmax(torch.bmm(query, key), dim=-1)  # (B, N, K)
        value = self.value_linear(y).transpose(1, 2)  # (B, C, K)
        out = torch.bmm(value, attention.transpose(1, 2)).view_as(x)
        return x + self.scale * out


class CCAMDec(nn.Module):
    """CCAM decoder: each of the ``C`` channels attends to the ``K`` compact channels ``y``.

    As DANet's CAM, with ``energy = X Y^T`` ``(C, K)`` and the softmax of
    ``max_k(energy) - energy``; ``out = x + scale * softmax(...) Y``.

    Shape:
        - Input: ``x`` ``(N, C, H, W)``, ``y`` ``(N, K, H, W)`` (the CCAM encoder's output).
        - Output: ``(N, C, H, W)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        X, Y = x.flatten(2), y.flatten(2)  # (B, C, N), (B, K, N)
        energy = torch.bmm(X, Y.transpose(1, 2))  # (B, C, K)
        energy = energy.amax(dim=-1, keepdim=True) - energy
        out = torch.bmm(F.softmax(energy, dim=-1), Y).view_as(x)
        return x + self.scale * out


class CLGD(nn.Module):
    """Cross-level gating decoder.

    ``low' = conv_low(low)`` (3x3 to ``inter_channels``); ``high`` is upsampled to its size;
    the gate ``g = sigmoid(conv_att([low', high]))`` (one channel) refines
    ``low'' = gamma * g * low'`` (``gamma`` starts at 1); then
    ``out = conv_out(conv_cat([low'', high]))``.

    Args:
        low_channels: Channels of the low-level (fine) features.
        high_channels: Channels of the high-level (coarse) features; ``conv_cat`` keeps them.
        out_channels: Output channels.
        inter_channels: Channels of the reduced low-level features (32 in DRANet).
        conv_cfg: Conv config of the 3x3 ConvModules.
        norm_cfg: Norm config of the 3x3 ConvModules.
        act_cfg: Activation config of the 3x3 ConvModules.
        align_corners: ``align_corners`` of the upsampling.

    Shape:
        - Input: ``low`` ``(N, low_channels, H, W)``, ``high`` ``(N, high_channels, h, w)``.
        - Output: ``(N, out_channels, H, W)``.
    """

    def __init__(
        self,
        low_channels: int,
        high_channels: int,
        out_channels: int,
        *,
        inter_channels: int = 32,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = _RELU,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        self.align_corners = align_corners
        common = dict(padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        cat_channels = inter_channels + high_channels
        self.conv_low = ConvModule(low_channels, inter_channels, 3, **common)
        self.conv_att = nn.Conv2d(cat_channels, 1, 1)
        self.conv_cat = ConvModule(cat_channels, high_channels, 3, **common)
        self.conv_out = ConvModule(high_channels, out_channels, 3, **common)
        self.gamma = nn.Parameter(torch.ones(1))

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        low = self.conv_low(low)
        high = resize(high, low.shape[2:], align_corners=self.align_corners)
        gate = torch.sigmoid(self.conv_att(torch.cat([low, high], dim=1)))
        low = self.gamma * gate * low
        return self.conv_out(self.conv_cat(torch.cat([low, high], dim=1)))
