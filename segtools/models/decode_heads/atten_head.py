"""PyTorch-Encoding's ATTEN head: multi-head attention with a mixture of softmaxes (ACF), a
global-pooling branch, EncNet's context gating, and optionally EncNet's laterals and SE loss."""

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from torch import nn

from segtools.models.layers.acf import ACFModule
from segtools.models.layers.conv_module import ConvModule
from segtools.models.layers.enc_module import EncModule
from segtools.models.layers.lateral_fuse import LateralFusion
from segtools.models.layers.ppm import ImagePooling
from segtools.registry import MODELS

from .decode_head import DEFAULT_SE_LOSS, BaseDecodeHead


@MODELS.register_module()
class ATTENHead(BaseDecodeHead):
    """3x3 conv, optional laterals, ACF attention (with a concatenated global-pooling branch), context gating.

    With ``with_global`` the attention width ``d = channels // 2`` and the classifier sees
    ``[global_pool(x), acf(x)]`` (``channels``); otherwise ``d = channels``. ACF uses
    ``num_heads`` heads of ``d_k = d / num_heads * num_mixtures`` query/key and
    ``d_v = d / num_heads`` value channels. With ``with_enc`` an :class:`EncModule` gates the
    channels; with ``use_se_loss`` a linear layer on its context vector predicts which classes
    the image contains, trained by ``loss_se_decode`` (EncNet's SE loss, auxiliary output
    ``'se'``). PyTorch-Encoding: 4096-channel input (WideResNet), ``channels=2048``,
    ``num_heads=8``, ``num_mixtures=1``, no laterals, no SE loss.

    Args:
        in_channels: Channels of the selected input; a sequence with ``'resize_concat'`` or
            ``'multiple_select'`` (with ``with_lateral``: the laterals, then the main input).
        channels: Channels of the feature fed to the classifier.
        num_heads: Attention heads; must divide the attention width.
        num_mixtures: Softmaxes per head.
        with_global: Concatenate a global-average-pooling branch.
        with_enc: Gate the channels with :class:`EncModule`.
        with_lateral: Fuse the other selected inputs (PyTorch-Encoding: c2, c3) into the 3x3
            conv's output with :class:`LateralFusion`; needs ``input_transform='multiple_select'``
            and the main input last.
        use_se_loss: Predict the classes present and add ``loss_se`` (needs ``with_enc``).
        num_codes: Codewords of the EncModule.
        kq_transform: ACF query/key projection (``'conv'``, ``'ffn'``, ``'dffn'``).
        input_transform: :class:`BaseDecodeHead`'s input selection.
        loss_se_decode: Config of the SE loss: segtools' ``SELoss`` or MMSegmentation's
            ``CrossEntropyLoss(use_sigmoid=True)`` against the class presence (see
            :meth:`BaseDecodeHead._build_se_loss`).
        **kwargs: Other :class:`BaseDecodeHead` arguments.

    Shape:
        - Input: the selected map ``(N, in_channels, H, W)`` (with ``with_lateral``: maps
          ``(N, in_channels[i], H_i, W_i)``).
        - Output: logits ``(N, out_channels, H, W)`` at the (last) selected input's size.
    """

    aux_losses: ClassVar[Mapping[str, str]] = {'se': 'se'}

    def __init__(
        self,
        in_channels: int | Sequence[int],
        channels: int,
        *,
        num_heads: int = 8,
        num_mixtures: int = 1,
        with_global: bool = True,
        with_enc: bool = True,
        with_lateral: bool = False,
        use_se_loss: bool = False,
        num_codes: int = 32,
        kq_transform: str = 'conv',
        input_transform: str | None = None,
        loss_se_decode: dict = DEFAULT_SE_LOSS,
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, input_transform=input_transform, **kwargs)
        d_model = self.channels // 2 if with_global else self.channels
        if (with_global and self.channels % 2) or d_model % num_heads:
            raise ValueError(
                f'ATTENHead: the attention width ({d_model}) must be a multiple of num_heads ({num_heads}) '
                'and channels even with with_global'
            )
        if self.norm_cfg is None:
            raise ValueError('ATTENHead: norm_cfg is required (ACF and EncModule normalise with it)')
        # 'multiple_select' yields a list, which only the lateral fusion knows how to consume.
        if with_lateral != (self.input_transform == 'multiple_select'):
            raise ValueError(
                "ATTENHead: with_lateral=True needs input_transform='multiple_select' (laterals first, the "
                f'main input last) and only it uses that transform; got with_lateral={with_lateral}, '
                f'input_transform={self.input_transform!r}'
            )
        if with_lateral and len(self.in_channels) < 2:
            raise ValueError(f'ATTENHead: with_lateral needs at least two inputs, got in_channels={self.in_channels}')
        if use_se_loss and not with_enc:
            raise ValueError('ATTENHead: use_se_loss needs with_enc=True (the SE layer reads the EncModule context)')
        cfgs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        main_channels = self.in_channels[-1] if with_lateral else self.in_channels
        self.conv_in = ConvModule(main_channels, d_model, 3, padding=1, **cfgs)
        self.lateral_fuse = (
            LateralFusion(self.in_channels[:-1], d_model, align_corners=self.align_corners, **cfgs)
            if with_lateral
            else None
        )
        d_v = d_model // num_heads
        self.acf = ACFModule(
            num_heads, num_mixtures, d_model, d_v * num_mixtures, d_v, norm_cfg=self.norm_cfg, kq_transform=kq_transform
        )
        self.global_pool = (
            ImagePooling(d_model, d_model, align_corners=self.align_corners, **cfgs) if with_global else None
        )
        self.enc_module = EncModule(self.channels, num_codes, **cfgs) if with_enc else None
        self.se_layer = nn.Linear(self.channels, self.num_classes) if use_se_loss else None
        self.loss_se_decode = self._build_se_loss(loss_se_decode) if use_se_loss else None

    def forward_with_aux(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Seg logits ``(N, out_channels, H, W)``; with ``use_se_loss``, ``{'se': (N, num_classes) logits}``."""
        selected = self._transform_inputs(inputs)
        if self.lateral_fuse is not None:
            x = self.lateral_fuse(self.conv_in(selected[-1]), selected[:-1])
        else:
            x = self.conv_in(selected)
        feat = self.acf(x)
        if self.global_pool is not None:
            # Global branch first, as PyTorch-Encoding's ConcurrentModule orders them.
            feat = torch.cat([self.global_pool(x), feat], dim=1)
        aux = {}
        if self.enc_module is not None:
            feat, context = self.enc_module(feat)
            if self.se_layer is not None:
                aux['se'] = self.se_layer(context)
        return self.cls_seg(feat), aux

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return self.forward_with_aux(inputs)[0]
