"""UPerNet head ("Unified Perceptual Parsing for Scene Understanding", Xiao et al., ECCV 2018)."""

from collections.abc import Sequence

import torch

from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.fpn_fuse import FPNFusion
from segtools.models.layers.ppm import PyramidPoolingModule
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class UPerHead(BaseDecodeHead):
    """Pyramid pooling on the coarsest input, an FPN over the others, all levels fused.

    The top level is ``bottleneck(PPM(x_top))`` (3x3 to ``channels``); :class:`FPNFusion`
    adds the lower levels top-down and concatenates every level at the finest resolution;
    a 3x3 ConvModule fuses them to ``channels`` for the classifier. Inputs are always
    ``'multiple_select'``, finest first.

    Args:
        in_channels: Channels of each selected input, finest first.
        channels: Channels of the pooling branches, every pyramid level and the fused feature.
        pool_scales: Pooled grid side of each pyramid-pooling branch.
        **kwargs: :class:`BaseDecodeHead` arguments (``in_index`` a sequence).

    Shape:
        - Input: maps ``(N, in_channels[i], H_i, W_i)``.
        - Output: logits ``(N, out_channels, H_0, W_0)``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int,
        *,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, input_transform='multiple_select', **kwargs)
        if len(self.in_channels) < 2:
            raise ValueError(f'UPerHead: needs at least two inputs, got in_channels={self.in_channels}')
        common = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.psp = PyramidPoolingModule(
            self.in_channels[-1], self.channels, pool_scales=pool_scales, align_corners=self.align_corners, **common
        )
        self.bottleneck = ConvModule(self.psp.out_channels, self.channels, 3, padding=1, **common)
        self.fpn = FPNFusion(self.in_channels[:-1], self.channels, align_corners=self.align_corners, **common)
        self.fpn_bottleneck = ConvModule(self.fpn.out_channels, self.channels, 3, padding=1, **common)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        *lower, top = self._transform_inputs(inputs)
        feat = self.fpn(lower, self.bottleneck(self.psp(top)))
        return self.cls_seg(self.fpn_bottleneck(feat))
