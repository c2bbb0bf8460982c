"""EncNet head ("Context Encoding for Semantic Segmentation", Zhang et al., CVPR 2018)."""

from collections.abc import Sequence

import torch
from mmcv.cnn import ConvModule
from torch import nn

from segtools.models.layers.enc_module import EncModule
from segtools.models.layers.lateral_fuse import LateralFusion
from segtools.registry import MODELS
from segtools.structures import SampleList

from .decode_head import BaseDecodeHead

# Shared defaults, never mutated (configs are copied before use).
_DEFAULT_SE_LOSS = dict(type='SELoss', loss_weight=0.2)


@MODELS.register_module()
class EncHead(BaseDecodeHead):
    """A 3x3 conv on the last input, optional laterals, the context encoding module, the classifier.

    :class:`EncModule` gates the channels with the encoded global context; with
    ``use_se_loss`` a linear layer on that context predicts which classes the image contains,
    trained by ``loss_se_decode`` (the SE loss) next to the pixel losses. Inputs are always
    ``'multiple_select'``; only the last one is used unless ``add_lateral``.

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

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int,
        *,
        num_codes: int = 32,
        use_se_loss: bool = True,
        add_lateral: bool = False,
        loss_se_decode: dict = _DEFAULT_SE_LOSS,
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

    def _forward_both(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Seg logits ``(N, out_channels, H, W)`` and SE logits ``(N, num_classes)`` (or ``None``)."""
        inputs = self._transform_inputs(inputs)
        feat = self.bottleneck(inputs[-1])
        if self.lateral_fuse is not None:
            feat = self.lateral_fuse(feat, inputs[:-1])
        feat, context = self.enc_module(feat)
        se_logits = self.se_layer(context) if self.se_layer is not None else None
        return self.cls_seg(feat), se_logits

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return self._forward_both(inputs)[0]

    def loss(self, inputs: list[torch.Tensor], batch_data_samples: SampleList, train_cfg: dict) -> dict:
        """Pixel losses and accuracy of the base head, plus the SE loss with ``use_se_loss``."""
        seg_logits, se_logits = self._forward_both(inputs)
        losses = self.loss_by_feat(seg_logits, batch_data_samples)
        if se_logits is not None:
            for name, value in self._se_loss_by_feat(self.loss_se_decode, se_logits, batch_data_samples).items():
                losses[name] = losses.get(name, 0) + value
        return losses
