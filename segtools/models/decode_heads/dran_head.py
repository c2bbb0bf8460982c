"""DRANet head ("Scene Segmentation with Dual Relation-aware Attention Network", Fu et al., IEEE
TNNLS 2020)."""

from collections.abc import Sequence

import torch

from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.dran_attention import CLGD, CCAMDec, CPAMDec, CPAMEnc
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class DRANHead(BaseDecodeHead):
    """Compact position (CPAM) and channel (CCAM) attention on the high-level input, fused, then
    decoded with the low-level input by the cross-level gating decoder (CLGD).

    Each attention branch: 3x3 ConvModule to ``inter_channels``, its encoder and decoder,
    3x3 ConvModule; the branches are concatenated and fused by a 3x3 ConvModule to
    ``channels``; CLGD brings that to the low-level resolution with ``channels`` channels.
    DRANet: inputs c1 and c4 (``in_channels=(256, 2048)``, ``in_index=(0, 3)``),
    ``inter_channels=512``, ``channels=256``. Inputs are always ``'multiple_select'``.

    Args:
        in_channels: Channels of the (low-level, high-level) inputs.
        channels: Channels of the fused attention and of the decoded feature.
        inter_channels: Channels of the attention branches; ``in_channels[1] // 4`` when ``None``.
        pool_scales: Pooled grid sides of the CPAM encoder.
        ccam_reduction: CCAM compacts ``inter_channels`` into ``inter_channels // ccam_reduction``.
        clgd_channels: Channels of CLGD's reduced low-level features.
        **kwargs: :class:`BaseDecodeHead` arguments (``in_index`` a pair).

    Shape:
        - Input: low ``(N, in_channels[0], H, W)``, high ``(N, in_channels[1], h, w)``.
        - Output: logits ``(N, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int,
        *,
        inter_channels: int | None = None,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        ccam_reduction: int = 16,
        clgd_channels: int = 32,
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, input_transform='multiple_select', **kwargs)
        if len(self.in_channels) != 2:
            raise ValueError(f'DRANHead: needs (low-level, high-level) inputs, got in_channels={self.in_channels}')
        low_channels, high_channels = self.in_channels
        inter = inter_channels or high_channels // 4
        cfgs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.conv_cpam_b = ConvModule(high_channels, inter, 3, padding=1, **cfgs)
        self.cpam_enc = CPAMEnc(inter, pool_scales=pool_scales, **cfgs)
        self.cpam_dec = CPAMDec(inter)
        self.conv_cpam_e = ConvModule(inter, inter, 3, padding=1, **cfgs)
        self.conv_ccam_b = ConvModule(high_channels, inter, 3, padding=1, **cfgs)
        self.ccam_enc = ConvModule(inter, max(inter // ccam_reduction, 1), 1, **cfgs)
        self.ccam_dec = CCAMDec()
        self.conv_ccam_e = ConvModule(inter, inter, 3, padding=1, **cfgs)
        self.conv_cat = ConvModule(2 * inter, self.channels, 3, padding=1, **cfgs)
        self.clgd = CLGD(
            low_channels,
            self.channels,
            self.channels,
            inter_channels=clgd_channels,
            align_corners=self.align_corners,
            **cfgs,
        )

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        low, high = self._transform_inputs(inputs)
        cpam = self.conv_cpam_b(high)
        cpam = self.conv_cpam_e(self.cpam_dec(cpam, self.cpam_enc(cpam)))
        ccam = self.conv_ccam_b(high)
        ccam = self.conv_ccam_e(self.ccam_dec(ccam, self.ccam_enc(ccam)))
        feat = self.conv_cat(torch.cat([cpam, ccam], dim=1))
        return self.cls_seg(self.clgd(low, feat))
