"""Fully convolutional head ("Fully Convolutional Networks for Semantic Segmentation", Long et
al., CVPR 2015), also the auxiliary head of most models."""

from collections.abc import Sequence

import torch
from torch import nn

from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.ppm import ImagePooling
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class FCNHead(BaseDecodeHead):
    """``num_convs`` ConvModules, optionally concatenated with the input, then the classifier.

    PyTorch-Encoding's FCN is ``num_convs=1, concat_input=False`` with ``channels = in / 4``
    (``with_global=False``); MMSegmentation's is ``num_convs=2, concat_input=True``.

    Args:
        in_channels: Channels of the selected input (a sequence with ``'resize_concat'``).
        channels: Channels of the feature fed to the classifier.
        num_convs: Number of ConvModules (0: the input goes straight to the classifier, which
            needs ``in_channels == channels``).
        kernel_size: Kernel size of the convs.
        concat_input: Concatenate the input with the convs' output and fuse them with one
            more conv.
        dilation: Dilation of the convs.
        with_global: Concatenate a global-average-pooling branch (PyTorch-Encoding's
            ``GlobalPooling``) to the last feature; the convs then produce ``channels // 2``
            so that the classifier still sees ``channels``.
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
        num_convs: int = 2,
        kernel_size: int = 3,
        concat_input: bool = True,
        dilation: int = 1,
        with_global: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, **kwargs)
        if num_convs < 0 or kernel_size % 2 == 0 or not isinstance(dilation, int) or dilation < 1:
            raise ValueError(
                'FCNHead: need num_convs >= 0, an odd kernel_size and an int dilation >= 1, got '
                f'num_convs={num_convs}, kernel_size={kernel_size}, dilation={dilation!r}'
            )
        if num_convs == 0 and self.in_channels != self.channels:
            raise ValueError(
                f'FCNHead: num_convs=0 needs in_channels == channels, got {self.in_channels}, {self.channels}'
            )
        if with_global and (num_convs == 0 or self.channels % 2):
            raise ValueError(f'FCNHead: with_global needs num_convs > 0 and an even channels, got {self.channels}')
        width = self.channels // 2 if with_global else self.channels
        common = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        padding = kernel_size // 2 * dilation
        self.convs = nn.Sequential(
            *(
                ConvModule(
                    self.in_channels if i == 0 else width,
                    width,
                    kernel_size,
                    padding=padding,
                    dilation=dilation,
                    **common,
                )
                for i in range(num_convs)
            )
        )
        self.conv_cat = (
            ConvModule(self.in_channels + width, width, kernel_size, padding=kernel_size // 2, **common)
            if concat_input
            else None
        )
        self.global_pool = (
            ImagePooling(width, width, align_corners=self.align_corners, **common) if with_global else None
        )

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        feat = self.convs(x)
        if self.conv_cat is not None:
            feat = self.conv_cat(torch.cat([x, feat], dim=1))
        if self.global_pool is not None:
            feat = torch.cat([feat, self.global_pool(feat)], dim=1)
        return self.cls_seg(feat)
