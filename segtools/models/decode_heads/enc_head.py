"""EncNet head ("Context Encoding for Semantic Segmentation", Zhang et al., CVPR 2018)."""

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import nn

from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.enc_module import EncModule
from segtools.models.layers.lateral_fuse import LateralFusion
from segtools.registry import MODELS

from .decode_head import DEFAULT_SE_LOSS, BaseDecodeHead


@MODELS.register_module()
class EncHead(BaseDecodeHead):
    """A 3x3 conv on the last input, optional laterals, the context encoding module, the classifier.

    :class:`EncModule` gates the channels with the encoded global context; with
    ``use_se_loss`` a linear layer on that context predicts which classes the image contains,
    trained by ``loss_se_decode`` (the SE loss, auxiliary output ``'se'``) next to the pixel
    losses. Inputs are always ``'multiple_select'``; only the last one is used unless
    ``add_lateral``.

    Args:
        in_channels: Channels of each selected input (e.g. c2, c3, c4: ``(512, 1024, 2048)``).
        channels: Channels of the encoded feature.
        num_codes: Codewords of the Encoding layer.
        use_se_loss: Predict the classes present and add ``loss_se``.
        add_lateral: Fuse the other inputs into the bottleneck's output with
            :class:`LateralFusion` (PyTorch-Encoding's ``lateral``, used on Pascal datasets).
        loss_se_decode: Config of the SE loss: segtools' ``SELoss`` or MMSegmentation's
            ``CrossEntropyLoss(use_sigmoid=True)`` against the class presence (see
            :meth:`BaseDecodeHead._build_se_loss`).
        **kwargs: :class:`BaseDecodeHead` arguments (``in_index`` a sequence).

    Shape:
        - Input: maps ``(N, in_channels[i], H_i, W_i)``.
        - Output: logits ``(N, out_channels, H, W)`` at the last input's size.
    """

    aux_losses: ClassVar[Mapping[str, str]] = {'se': 'se'}

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int,
        *,
        num_codes: int = 32,
        use_se_loss: bool = True,
        add_lateral: bool = False,
        loss_se_decode: dict = DEFAULT_SE_LOSS,
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, input_transform='multiple_select', **kwargs)
        common = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.bottleneck = ConvModule(self.in_channels[-1], self.channels, 3, padding=1, **common)
        self.lateral_fuse = (
            LateralFusion(self.in_channels[:-1], self.channels, align_corners=self.align_corners, **common)
            if add_lateral
            else None
        )
        self.enc_module = EncModule(self.channels, num_codes, **common)
        self.se_layer = nn.Linear(self.channels, self.num_classes) if use_se_loss else None
        self.loss_se_decode = self._build_se_loss(loss_se_decode) if use_se_loss else None

    def forward_with_aux(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Seg logits ``(N, out_channels, H, W)``; with ``use_se_loss``, ``{'se': (N, num_classes) logits}``."""
        inputs = self._transform_inputs(inputs)
        feat = self.bottleneck(inputs[-1])
        if self.lateral_fuse is not None:
            feat = self.lateral_fuse(feat, inputs[:-1])
        feat, context = self.enc_module(feat)
        aux = {} if self.se_layer is None else {'se': self.se_layer(context)}
        return self.cls_seg(feat), aux

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return self.forward_with_aux(inputs)[0]
