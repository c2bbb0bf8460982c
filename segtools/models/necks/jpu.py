"""JPU: joint pyramid upsampling of FastFCN.

"FastFCN: Rethinking Dilated Convolution in the Backbone for Semantic Segmentation"
(Wu et al., 2019; wuhuikai/FastFCN).
"""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import DepthwiseSeparableConvModule
from mmengine.model import BaseModule

from segtools.models.layers.conv_module import ConvModule
from segtools.registry import MODELS

DEFAULT_NORM = dict(type='BN')
DEFAULT_ACT = dict(type='ReLU')
DEFAULT_WIDTH = 512


def _default_in_strides(num_levels: int, name: str) -> tuple[int, ...]:
    """Strides of a standard 2x pyramid whose last level is at stride 32."""
    if not 1 <= num_levels <= 5:
        raise ValueError(f'{name}: cannot assume strides for {num_levels} inputs; pass in_strides')
    return tuple(2 ** (6 - num_levels + i) for i in range(num_levels))


@MODELS.register_module()
class JPU(BaseModule):
    """Joint pyramid upsampling: several backbone levels fused at the finest of them.

    Replaces the dilated last stages of a backbone: each fused level goes through a 3x3
    ConvModule to ``channels``, the coarser ones are bilinearly upsampled to the finest's
    size, all are concatenated, and separable 3x3 convs with dilations 1, 2, 4, 8 run in
    parallel on the result; their outputs are concatenated into the fused map.

    Which levels are fused, and which pass through, follows one of two conventions:

    - FastFCN (``start_level=None``, the default with the ``channels`` spelling): the last
      three levels before ``end_level`` are fused, concatenated deepest first as FastFCN
      does; every earlier level passes through, so heads keep their ``in_index`` (FastFCN's
      aux head reads ``c3`` unchanged).
    - MMSegmentation (an int ``start_level``, or the ``mid_channels`` spelling, which
      implies mmseg's default ``start_level=0``): the levels ``start_level ..
      end_level - 1`` are fused, concatenated finest first as mmseg does; the levels
      ``start_level .. end_level - 2`` pass through and earlier or later ones are dropped.

    With mmseg's three inputs ``(512, 1024, 2048)`` both give ``(c2, c3, fused)``; they
    differ only in the order of the concatenated levels (a permutation of the separable
    convs' input channels, which matters when loading the other's weights).

    Args:
        in_channels: Channels of every input level, e.g. ``(512, 1024, 2048)`` for ResNet
            stages 2-4.
        channels: Width of each level conv and each branch (FastFCN's ``width``); 512 when
            neither it nor ``mid_channels`` is given.
        mid_channels: MMSegmentation's name of ``channels``; give one of the two.
        start_level: First fused level (mmseg); ``None`` fuses the last three levels
            (FastFCN), or starts at 0 when the width is spelt ``mid_channels``.
        end_level: One past the last fused level; -1 (mmseg's default) means all levels.
        dilations: Dilation of each separable branch.
        in_strides: Stride of every input level; ``None`` assumes a standard 2x
            pyramid ending at stride 32 (``(8, 16, 32)`` for three levels). The
            segmentor passes the backbone's ``out_strides``.
        align_corners: ``align_corners`` of the bilinear upsampling.
        conv_cfg: Conv config of the level convs and the branches (mmseg passes it to the
            level convs only; the two differ for a non-default ``conv_cfg``).
        norm_cfg: Norm config.
        act_cfg: Activation config.
        init_cfg: Weight init config.

    Attributes:
        fused_levels: Indices of the fused inputs, in concatenation order.
        passed_levels: Indices of the inputs passed through, in output order.
        out_channels: Channels of the passed levels, then ``len(dilations) * channels``.
        out_strides: Strides of the passed levels, then that of the finest fused level.

    Raises:
        ValueError: Both or invalid widths, a level range that fuses nothing (or fewer
            than 3 levels for FastFCN), or ``in_strides`` of the wrong length.
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (512, 1024, 2048),
        channels: int | None = None,
        *,
        mid_channels: int | None = None,
        start_level: int | None = None,
        end_level: int = -1,
        dilations: Sequence[int] = (1, 2, 4, 8),
        in_strides: Sequence[int] | None = None,
        align_corners: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = DEFAULT_NORM,
        act_cfg: dict | None = DEFAULT_ACT,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = tuple(in_channels)
        if channels is not None and mid_channels is not None:
            raise ValueError(
                f"JPU: got both channels={channels} and mid_channels={mid_channels} (MMSegmentation's name of "
                'the same width); give one'
            )
        width = channels if channels is not None else mid_channels if mid_channels is not None else DEFAULT_WIDTH
        if not isinstance(width, int) or width < 1:
            raise ValueError(f'JPU: channels (mid_channels) must be an int >= 1, got {width!r}')
        if start_level is None and mid_channels is not None:
            start_level = 0  # mmseg's default, which fuses every level
        self.fused_levels, self.passed_levels = self._levels(len(in_channels), start_level, end_level)
        in_strides = _default_in_strides(len(in_channels), 'JPU') if in_strides is None else tuple(in_strides)
        if len(in_strides) != len(in_channels):
            raise ValueError(f'JPU: in_strides {in_strides} and in_channels {in_channels} differ in length')
        if not dilations:
            raise ValueError('JPU: dilations must not be empty')
        self.in_channels = in_channels
        self.channels = width
        self.align_corners = align_corners
        self.level_convs = nn.ModuleList(
            ConvModule(in_channels[i], width, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for i in self.fused_levels
        )
        self.dilation_convs = nn.ModuleList(
            DepthwiseSeparableConvModule(
                len(self.fused_levels) * width,
                width,
                3,
                padding=d,
                dilation=d,
                conv_cfg=conv_cfg,
                dw_norm_cfg=norm_cfg,
                dw_act_cfg=None,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
            )
            for d in dilations
        )
        finest = min(self.fused_levels)
        self.out_channels = tuple(in_channels[i] for i in self.passed_levels) + (len(dilations) * width,)
        self.out_strides = tuple(in_strides[i] for i in self.passed_levels) + (in_strides[finest],)

    @staticmethod
    def _levels(num_levels: int, start_level: int | None, end_level: int) -> tuple[list[int], list[int]]:
        """The fused levels (concatenation order) and the passed-through ones, checked."""
        if not isinstance(end_level, int) or not (end_level == -1 or 1 <= end_level <= num_levels):
            raise ValueError(
                f'JPU: end_level must be -1 (all {num_levels} levels) or in [1, {num_levels}] (one past the last '
                f'fused level), got {end_level!r}'
            )
        end = num_levels if end_level == -1 else end_level
        if start_level is None:
            if end < 3:
                raise ValueError(
                    f'JPU: in_channels needs at least 3 levels before end_level to fuse the last three (FastFCN), '
                    f'got {end}; set start_level to fuse fewer'
                )
            return list(range(end - 1, end - 4, -1)), list(range(end - 1))
        if not isinstance(start_level, int) or not 0 <= start_level < end:
            raise ValueError(
                f'JPU: start_level must be an int in [0, {end}) (end_level {end_level}), got {start_level!r}'
            )
        return list(range(start_level, end)), list(range(start_level, end - 1))

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Fuses the selected levels.

        Args:
            inputs: One ``(N, in_channels[i], H_i, W_i)`` tensor per level.

        Returns:
            The passed-through inputs and the fused map ``(N, len(dilations) * channels,
            H_f, W_f)`` at the size of the finest fused level ``f``.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'JPU: expected {len(self.in_channels)} inputs (in_channels), got {len(inputs)}')
        finest = min(self.fused_levels)
        size = inputs[finest].shape[2:]
        feats = []
        for conv, level in zip(self.level_convs, self.fused_levels, strict=True):
            feat = conv(inputs[level])
            if level != finest:
                feat = F.interpolate(feat, size=size, mode='bilinear', align_corners=self.align_corners)
            feats.append(feat)
        feat = torch.cat(feats, dim=1)
        feat = torch.cat([conv(feat) for conv in self.dilation_convs], dim=1)
        return (*(inputs[i] for i in self.passed_levels), feat)
