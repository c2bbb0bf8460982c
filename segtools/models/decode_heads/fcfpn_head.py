"""PyTorch-Encoding's fully convolutional FPN head (after "Feature Pyramid Networks for Object
Detection", Lin et al., CVPR 2017)."""

from collections.abc import Sequence

import torch

from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.fpn_fuse import FPNFusion
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class FCFPNHead(BaseDecodeHead):
    """A 3x3 conv on the coarsest input, an FPN over the others, all levels fused.

    As :class:`UPerHead` with a plain 3x3 ConvModule instead of pyramid pooling at the top.
    PyTorch-Encoding uses ``fpn_channels=256`` and ``channels=512`` over c1..c4 of an
    undilated backbone. Inputs are always ``'multiple_select'``, finest first.

    Args:
        in_channels: Channels of each selected input, finest first.
        channels: Channels of the fused feature.
        fpn_channels: Channels of every pyramid level; ``channels`` when ``None``.
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
        fpn_channels: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, input_transform='multiple_select', **kwargs)
        if len(self.in_channels) < 2:
            raise ValueError(f'FCFPNHead: needs at least two inputs, got in_channels={self.in_channels}')
        fpn_channels = fpn_channels or self.channels
        common = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.top_conv = ConvModule(self.in_channels[-1], fpn_channels, 3, padding=1, **common)
        self.fpn = FPNFusion(self.in_channels[:-1], fpn_channels, align_corners=self.align_corners, **common)
        self.fpn_bottleneck = ConvModule(self.fpn.out_channels, self.channels, 3, padding=1, **common)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        *lower, top = self._transform_inputs(inputs)
        feat = self.fpn(lower, self.top_conv(top))
        return self.cls_seg(self.fpn_bottleneck(feat))
