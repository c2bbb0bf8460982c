"""Pyramid scene parsing head ("Pyramid Scene Parsing Network", Zhao et al., CVPR 2017)."""

from collections.abc import Sequence

import torch

from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.ppm import PyramidPoolingModule
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class PSPHead(BaseDecodeHead):
    """Pyramid pooling (one ``channels``-wide branch per scale, concatenated with the input),
    a 3x3 ConvModule to ``channels``, then the classifier.

    With a 2048-channel input and ``channels=512`` this matches both PyTorch-Encoding (branches
    of ``in / 4``) and MMSegmentation: 4096 channels into the 3x3 conv.

    Args:
        in_channels: Channels of the selected input (a sequence with ``'resize_concat'``).
        channels: Channels of each pooling branch and of the 3x3 conv.
        pool_scales: Pooled grid side of each branch.
        **kwargs: :class:`BaseDecodeHead` arguments.

    Shape:
        - Input: the selected map ``(N, in_channels, H, W)``.
        - Output: logits ``(N, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int | Sequence[int],
        channels: int,
        *,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, **kwargs)
        common = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.psp = PyramidPoolingModule(
            self.in_channels, self.channels, pool_scales=pool_scales, align_corners=self.align_corners, **common
        )
        self.bottleneck = ConvModule(self.psp.out_channels, self.channels, 3, padding=1, **common)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.bottleneck(self.psp(self._transform_inputs(inputs))))
