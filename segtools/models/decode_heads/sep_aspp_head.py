"""DeepLabV3+ head ("Encoder-Decoder with Atrous Separable Convolution for Semantic Image
Segmentation", Chen et al., ECCV 2018)."""

from collections.abc import Sequence

import torch
from mmcv.cnn import DepthwiseSeparableConvModule
from torch import nn

from segtools.models.layers.aspp import ASPP
from segtools.models.layers.conv_module import ConvModule
from segtools.models.utils import resize
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class DepthwiseSeparableASPPHead(BaseDecodeHead):
    """ASPP with separable atrous branches, a 3x3 fusion, then a decoder on the first backbone level.

    The ASPP output (image pooling first, then one branch per dilation, the atrous ones depthwise
    separable) is fused to ``channels`` by a 3x3 ConvModule. With ``c1_in_channels > 0`` the
    first backbone output (``inputs[0]``, whatever ``in_index`` selects, as MMSegmentation)
    goes through a 1x1 ConvModule to ``c1_channels``, the fused map is upsampled to its size
    and concatenated to it; two depthwise separable 3x3 convs bring that to ``channels`` for
    the classifier.

    Args:
        in_channels: Channels of the selected input (a sequence with ``'resize_concat'``).
        channels: Channels of each ASPP branch, the fused map and the decoder.
        c1_in_channels: Channels of the first backbone output; 0 for no decoder.
        c1_channels: Channels of its 1x1 projection (0 without decoder).
        dilations: Dilation of each ASPP branch (1 is the 1x1 branch); MMSegmentation's default.
        **kwargs: :class:`BaseDecodeHead` arguments; ``conv_cfg`` reaches the separable convs
            too (MMSegmentation leaves those plain ``Conv2d``: the same for the default ``None``).

    Shape:
        - Input: the selected map ``(N, in_channels, H, W)`` and, with the decoder,
          ``inputs[0]`` ``(N, c1_in_channels, H_1, W_1)``.
        - Output: logits ``(N, out_channels, H_1, W_1)`` (``(H, W)`` without decoder).
    """

    def __init__(
        self,
        in_channels: int | Sequence[int],
        channels: int,
        *,
        c1_in_channels: int,
        c1_channels: int,
        dilations: Sequence[int] = (1, 6, 12, 18),
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, **kwargs)
        if c1_in_channels < 0 or c1_channels < 0 or (c1_in_channels == 0) != (c1_channels == 0):
            raise ValueError(
                'DepthwiseSeparableASPPHead: c1_in_channels and c1_channels must both be > 0 (decoder) or both 0, '
                f'got c1_in_channels={c1_in_channels}, c1_channels={c1_channels}'
            )
        self.c1_in_channels = c1_in_channels
        common = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.aspp = ASPP(
            self.in_channels,
            self.channels,
            dilations=dilations,
            align_corners=self.align_corners,
            separable=True,
            **common,
        )
        self.bottleneck = ConvModule(self.aspp.out_channels, self.channels, 3, padding=1, **common)
        self.c1_bottleneck = ConvModule(c1_in_channels, c1_channels, 1, **common) if c1_in_channels else None
        self.sep_bottleneck = nn.Sequential(
            DepthwiseSeparableConvModule(self.channels + c1_channels, self.channels, 3, padding=1, **common),
            DepthwiseSeparableConvModule(self.channels, self.channels, 3, padding=1, **common),
        )

    def check_in_channels(self, available: Sequence[int], source: str, key: str) -> None:
        """The base check, plus ``c1_in_channels`` against the first output of the ``source``."""
        super().check_in_channels(available, source, key)
        if self.c1_in_channels and self.c1_in_channels != available[0]:
            raise ValueError(
                f'{key}.c1_in_channels={self.c1_in_channels} does not match the {source}: its output 0 has '
                f'{available[0]} channels (out_channels={tuple(available)}); set {key}.c1_in_channels={available[0]}'
            )

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        feat = self.bottleneck(self.aspp(self._transform_inputs(inputs)))
        if self.c1_bottleneck is not None:
            c1 = self.c1_bottleneck(inputs[0])
            feat = torch.cat([resize(feat, c1.shape[2:], align_corners=self.align_corners), c1], dim=1)
        return self.cls_seg(self.sep_bottleneck(feat))
