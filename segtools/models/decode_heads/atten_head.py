"""PyTorch-Encoding's ATTEN head: multi-head attention with a mixture of softmaxes (ACF), a
global-pooling branch and EncNet's context gating."""

from collections.abc import Sequence

import torch
from mmcv.cnn import ConvModule

from segtools.models.layers.acf import ACFModule
from segtools.models.layers.enc_module import EncModule
from segtools.models.layers.ppm import ImagePooling
from segtools.registry import MODELS

from .decode_head import BaseDecodeHead


@MODELS.register_module()
class ATTENHead(BaseDecodeHead):
    """3x3 conv, ACF attention (with a concatenated global-pooling branch), context gating.

    With ``with_global`` the attention width ``d = channels // 2`` and the classifier sees
    ``[global_pool(x), acf(x)]`` (``channels``); otherwise ``d = channels``. ACF uses
    ``num_heads`` heads of ``d_k = d / num_heads * num_mixtures`` query/key and
    ``d_v = d / num_heads`` value channels. With ``with_enc`` an :class:`EncModule` gates the
    channels. PyTorch-Encoding: 4096-channel input (WideResNet), ``channels=2048``,
    ``num_heads=8``, ``num_mixtures=1``.

    Args:
        in_channels: Channels of the selected input (a sequence with ``'resize_concat'``).
        channels: Channels of the feature fed to the classifier.
        num_heads: Attention heads; must divide the attention width.
        num_mixtures: Softmaxes per head.
        with_global: Concatenate a global-average-pooling branch.
        with_enc: Gate the channels with :class:`EncModule`.
        num_codes: Codewords of the EncModule.
        kq_transform: ACF query/key projection (``'conv'``, ``'ffn'``, ``'dffn'``).
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
        num_heads: int = 8,
        num_mixtures: int = 1,
        with_global: bool = True,
        with_enc: bool = True,
        num_codes: int = 32,
        kq_transform: str = 'conv',
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, **kwargs)
        d_model = self.channels // 2 if with_global else self.channels
        if (with_global and self.channels % 2) or d_model % num_heads:
            raise ValueError(
                f'ATTENHead: the attention width ({d_model}) must be a multiple of num_heads ({num_heads}) '
                'and channels even with with_global'
            )
        if self.norm_cfg is None:
            raise ValueError('ATTENHead: norm_cfg is required (ACF and EncModule normalise with it)')
        cfgs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.conv_in = ConvModule(self.in_channels, d_model, 3, padding=1, **cfgs)
        d_v = d_model // num_heads
        self.acf = ACFModule(
            num_heads, num_mixtures, d_model, d_v * num_mixtures, d_v, norm_cfg=self.norm_cfg, kq_transform=kq_transform
        )
        self.global_pool = (
            ImagePooling(d_model, d_model, align_corners=self.align_corners, **cfgs) if with_global else None
        )
        self.enc_module = EncModule(self.channels, num_codes, **cfgs) if with_enc else None

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = self.conv_in(self._transform_inputs(inputs))
        feat = self.acf(x)
        if self.global_pool is not None:
            # Global branch first, as PyTorch-Encoding's ConcurrentModule orders them.
            feat = torch.cat([self.global_pool(x), feat], dim=1)
        if self.enc_module is not None:
            feat = self.enc_module(feat)[0]
        return self.cls_seg(feat)
