"""DANet head ("Dual Attention Network for Scene Segmentation", Fu et al., CVPR 2019)."""

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import nn

from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.pam_cam import CAM, PAM
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class DAHead(BaseDecodeHead):
    """Position (PAM) and channel (CAM) attention branches, summed, then the classifier.

    Each branch: 3x3 ConvModule to ``channels``, attention, 3x3 ConvModule. With
    ``use_branch_loss`` (DANet and MMSegmentation) each branch also gets its own classifier
    and the decode losses (auxiliary outputs ``'pam'`` and ``'cam'``), logged as ``pam.<loss>``
    and ``cam.<loss>`` next to the fused output's ``<loss>``; prediction uses the fused output only.

    Args:
        in_channels: Channels of the selected input (a sequence with ``'resize_concat'``).
        channels: Channels of both branches.
        pam_channels: Query/key channels of PAM; ``channels // 8`` when ``None``.
        use_branch_loss: Supervise the two branches too.
        **kwargs: :class:`BaseDecodeHead` arguments.

    Shape:
        - Input: the selected map ``(N, in_channels, H, W)``.
        - Output: logits ``(N, out_channels, H, W)``.
    """

    aux_losses: ClassVar[Mapping[str, str]] = {'pam': 'decode', 'cam': 'decode'}

    def __init__(
        self,
        in_channels: int | Sequence[int],
        channels: int,
        *,
        pam_channels: int | None = None,
        use_branch_loss: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, **kwargs)
        common = dict(padding=1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.pam_in_conv = ConvModule(self.in_channels, self.channels, 3, **common)
        self.pam = PAM(self.channels, pam_channels)
        self.pam_out_conv = ConvModule(self.channels, self.channels, 3, **common)
        self.cam_in_conv = ConvModule(self.in_channels, self.channels, 3, **common)
        self.cam = CAM()
        self.cam_out_conv = ConvModule(self.channels, self.channels, 3, **common)
        self.pam_conv_seg = nn.Conv2d(self.channels, self.out_channels, 1) if use_branch_loss else None
        self.cam_conv_seg = nn.Conv2d(self.channels, self.out_channels, 1) if use_branch_loss else None

    def _forward_all(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features of the PAM and CAM branches and the fused logits."""
        x = self._transform_inputs(inputs)
        pam_feat = self.pam_out_conv(self.pam(self.pam_in_conv(x)))
        cam_feat = self.cam_out_conv(self.cam(self.cam_in_conv(x)))
        return pam_feat, cam_feat, self.cls_seg(pam_feat + cam_feat)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return self._forward_all(inputs)[2]

    def forward_with_aux(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Fused logits and, with ``use_branch_loss``, ``{'pam': logits, 'cam': logits}``.

        Returns:
            Logits ``(N, out_channels, H, W)`` and the branches' logits of the same shape.
        """
        pam_feat, cam_feat, seg_logits = self._forward_all(inputs)
        if self.pam_conv_seg is None:
            return seg_logits, {}
        return seg_logits, {
            'pam': self._branch_seg(self.pam_conv_seg, pam_feat),
            'cam': self._branch_seg(self.cam_conv_seg, cam_feat),
        }

    def _branch_seg(self, conv: nn.Conv2d, feat: torch.Tensor) -> torch.Tensor:
        """Dropout, then a branch's own 1x1 classifier."""
        return conv(feat if self.dropout is None else self.dropout(feat))
