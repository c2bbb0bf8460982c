"""A plugin decode head, registered in segtools' ``MODELS`` from outside the package.

A config loads it with ``custom_imports=dict(imports=['projects.example_head.example_head'])``
(the repository root must be on ``sys.path``, as it is when tools run from it).
"""

import torch
from mmcv.cnn import ConvModule
from torch import nn

from segtools.models.decode_heads.decode_head import BaseDecodeHead
from segtools.registry import MODELS


@MODELS.register_module()
class ExampleHead(BaseDecodeHead):
    """A 3x3 ConvModule whose output is enriched with its global average, then the classifier.

    The global average is a cheap image-level context (as in ParseNet); it is added rather
    than concatenated so the classifier keeps ``channels`` inputs.

    Args:
        in_channels: Channels of the selected input.
        channels: Channels of the feature fed to the classifier.
        kernel_size: Kernel size of the conv (odd).
        **kwargs: :class:`BaseDecodeHead` arguments (``num_classes``, ``norm_cfg``, ...).

    Shape:
        - Input: the selected map ``(N, in_channels, H, W)``.
        - Output: logits ``(N, out_channels, H, W)``.
    """

    def __init__(self, in_channels: int, channels: int, *, kernel_size: int = 3, **kwargs) -> None:
        super().__init__(in_channels, channels, **kwargs)
        if kernel_size % 2 == 0:
            raise ValueError(f'ExampleHead: kernel_size must be odd to keep the size, got {kernel_size}')
        self.conv = ConvModule(
            self.in_channels,
            self.channels,
            kernel_size,
            padding=kernel_size // 2,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        feat = self.conv(self._transform_inputs(inputs))
        return self.cls_seg(feat + self.pool(feat))
