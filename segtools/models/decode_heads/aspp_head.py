"""DeepLabV3 head ("Rethinking Atrous Convolution for Semantic Image Segmentation", Chen et
al., 2017)."""

from collections.abc import Sequence

import torch
from torch import nn

from segtools.models.layers.aspp import ASPP
from segtools.models.layers.conv_module import ConvModule
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class ASPPHead(BaseDecodeHead):
    """ASPP (image pooling + one branch per dilation, ``channels`` each), a fusion, the classifier.

    Two fusions of the ``(len(dilations) + 1) * channels`` concatenation:

    - ``project_dropout_ratio=None`` (MMSegmentation): one 3x3 ConvModule to ``channels``.
    - a float (PyTorch-Encoding, 0.5): a 1x1 ConvModule to ``channels``, ``Dropout2d`` with
      that ratio, then a 3x3 ConvModule.

    Both use ``dilations=(1, 12, 24, 36)`` at output stride 8 (1 is the 1x1 branch), which
    their configs spell out; the class default is MMSegmentation's, ``(1, 6, 12, 18)`` (output
    stride 16), so an mmseg config that leaves it out means the same here.

    Args:
        in_channels: Channels of the selected input (a sequence with ``'resize_concat'``).
        channels: Channels of each ASPP branch and of the fused feature.
        dilations: Dilation of each conv branch.
        project_dropout_ratio: ``None`` or the dropout of PyTorch-Encoding's 1x1 projection.
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
        dilations: Sequence[int] = (1, 6, 12, 18),
        project_dropout_ratio: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, **kwargs)
        common = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.aspp = ASPP(
            self.in_channels, self.channels, dilations=dilations, align_corners=self.align_corners, **common
        )
        fuse_in = self.aspp.out_channels
        self.project = None
        if project_dropout_ratio is not None:
            self.project = nn.Sequential(
                ConvModule(fuse_in, self.channels, 1, **common), nn.Dropout2d(project_dropout_ratio)
            )
            fuse_in = self.channels
        self.bottleneck = ConvModule(fuse_in, self.channels, 3, padding=1, **common)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        feat = self.aspp(self._transform_inputs(inputs))
        if self.project is not None:
            feat = self.project(feat)
        return self.cls_seg(self.bottleneck(feat))
