"""JPU: joint pyramid upsampling of FastFCN.

"FastFCN: Rethinking Dilated Convolution in the Backbone for Semantic Segmentation"
(Wu et al., 2019; wuhuikai/FastFCN).
"""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.model import BaseModule

from segtools.registry import MODELS

DEFAULT_NORM = dict(type='BN')
DEFAULT_ACT = dict(type='ReLU')


def _default_in_strides(num_levels: int, name: str) -> tuple[int, ...]:
    """Strides of a standard 2x pyramid whose last level is at stride 32."""
    if not 1 <= num_levels <= 5:
        raise ValueError(f'{name}: cannot assume strides for {num_levels} inputs; pass in_strides')
    return tuple(2 ** (6 - num_levels + i) for i in range(num_levels))


@MODELS.register_module()
class JPU(BaseModule):
    """Joint pyramid upsampling: the last three backbone levels fused at the finest.

    Replaces the dilated last stages of a backbone: each of the last three inputs
    goes through a 3x3 conv to ``channels``, the two coarser ones are bilinearly
    upsampled to the finest's size, the three are concatenated (deepest first, as
    FastFCN), and separable 3x3 convs with dilations 1, 2, 4, 8 run in parallel on
    the result; their outputs are concatenated.

    The output tuple is the inputs with the last one replaced by that map, so
    heads keep their ``in_index`` (FastFCN's aux head reads ``c3`` unchanged).

    Args:
        in_channels: Channels of every input level (at least 3); the last three
            are fused, e.g. ``(512, 1024, 2048)`` for ResNet stages 2-4.
        channels: Width of each branch (FastFCN's ``width``).
        dilations: Dilation of each separable branch.
        in_strides: Stride of every input level; ``None`` assumes a standard 2x
            pyramid ending at stride 32 (``(8, 16, 32)`` for three levels). The
            segmentor passes the backbone's ``out_strides``.
        align_corners: ``align_corners`` of the bilinear upsampling.
        conv_cfg: Conv config.
        norm_cfg: Norm config.
        act_cfg: Activation config.
        init_cfg: Weight init config.

    Attributes:
        out_channels: ``in_channels[:-1] + (len(dilations) * channels,)``.
        out_strides: ``in_strides[:-1] + (in_strides[-3],)``.

    Raises:
        ValueError: Fewer than 3 levels, or ``in_strides`` of the wrong length.
    """

    def __init__(
        self,
        in_channels: Sequence[int] = (512, 1024, 2048),
        channels: int = 512,
        *,
        dilations: Sequence[int] = (1, 2, 4, 8),
        in_strides: Sequence[int] | None = None,
        align_corners: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict = DEFAULT_NORM,
        act_cfg: dict = DEFAULT_ACT,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = tuple(in_channels)
        if len(in_channels) < 3:
            raise ValueError(f'JPU: in_channels needs at least 3 levels, got {in_channels}')
        in_strides = _default_in_strides(len(in_channels), 'JPU') if in_strides is None else tuple(in_strides)
        if len(in_strides) != len(in_channels):
            raise ValueError(f'JPU: in_strides {in_strides} and in_channels {in_channels} differ in length')
        if not dilations:
            raise ValueError('JPU: dilations must not be empty')
        self.in_channels = in_channels
        self.align_corners = align_corners
        # Deepest level first, as FastFCN concatenates them.
        self.level_convs = nn.ModuleList(
            ConvModule(c, channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for c in in_channels[:-4:-1]
        )
        self.dilation_convs = nn.ModuleList(
            DepthwiseSeparableConvModule(
                3 * channels,
                channels,
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
        self.out_channels = in_channels[:-1] + (len(dilations) * channels,)
        self.out_strides = in_strides[:-1] + (in_strides[-3],)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Fuses the last three levels.

        Args:
            inputs: One ``(N, in_channels[i], H_i, W_i)`` tensor per level.

        Returns:
            ``inputs[:-1]`` and the fused map ``(N, len(dilations) * channels, H_{-3},
            W_{-3})``.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'JPU: expected {len(self.in_channels)} inputs (in_channels), got {len(inputs)}')
        feats = [conv(x) for conv, x in zip(self.level_convs, inputs[:-4:-1], strict=True)]
        size = feats[-1].shape[2:]
        coarse = [F.interpolate(f, size=size, mode='bilinear', align_corners=self.align_corners) for f in feats[:-1]]
        feat = torch.cat([*coarse, feats[-1]], dim=1)
        feat = torch.cat([conv(feat) for conv in self.dilation_convs], dim=1)
        return (*inputs[:-1], feat)
