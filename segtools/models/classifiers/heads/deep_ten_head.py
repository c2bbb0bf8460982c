"""The Deep TEN head: residual encoding of a feature map, then a linear classifier."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segtools.models.layers.conv_module import ConvModule
from segtools.registry import MODELS

from ...layers.encoding import Encoding
from .base_cls_head import DEFAULT_LOSS, BaseClsHead

DEFAULT_NORM = dict(type='BN')
DEFAULT_ACT = dict(type='ReLU')
# PyTorch-Encoding's Normalize(): F.normalize(x, p=2, dim=1, eps=1e-8).
NORMALIZE_EPS = 1e-8


@MODELS.register_module()
class DeepTENHead(BaseClsHead):
    """Deep TEN ("Deep TEN: Texture Encoding Network", Zhang et al., CVPR 2017).

    PyTorch-Encoding's ``DeepTen`` head, in its order: 1x1 conv to ``channels`` -> BN -> ReLU
    -> ``Encoding(D=channels, K=num_codes)`` ``(N, K, D)`` -> flatten to ``(N, K*D)`` -> L2
    normalisation of each row over all ``K*D`` values -> (dropout) -> linear. There is no
    norm after the encoding. It reads the backbone's last feature map directly (no neck); the
    encoding is orderless, so it takes any input size.

    Weights of PyTorch-Encoding's ``deepten_resnet50_minc`` map as ``head.0`` -> ``conv.conv``
    (its conv bias precedes a BN: fold it into the BN's ``running_mean``, ``mean - bias``),
    ``head.1`` -> ``conv.bn``, ``head.3`` -> ``encoding`` (``codewords``, ``scale``) and
    ``head.6`` -> ``fc``.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the input map (2048 for ResNet-50).
        channels: ``D``, channels of the reduced map and of each codeword.
        num_codes: ``K``, number of codewords.
        final_drop: Dropout probability before the linear layer (PyTorch-Encoding has none).
        norm_cfg: Norm config of the 1x1 conv block.
        act_cfg: Activation config of the 1x1 conv block.
        in_index: Which backbone output the head reads.
        loss: Loss config (see :class:`BaseClsHead`).
        topk: The top-k accuracies logged with the loss.
        init_cfg: mmengine initialisation config (PyTorch's defaults, as PyTorch-Encoding's).
    """

    takes_pooled = False

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        *,
        channels: int = 128,
        num_codes: int = 32,
        final_drop: float = 0.0,
        norm_cfg: dict | None = DEFAULT_NORM,
        act_cfg: dict | None = DEFAULT_ACT,
        in_index: int = -1,
        loss: dict = DEFAULT_LOSS,
        topk: int | Sequence[int] = (1,),
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(num_classes, in_channels, in_index=in_index, loss=loss, topk=topk, init_cfg=init_cfg)
        name = type(self).__name__
        for key, value in (('channels', channels), ('num_codes', num_codes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name}: {key} must be a positive int, got {value!r}')
        if not 0 <= final_drop < 1:
            raise ValueError(f'{name}: final_drop must be in [0, 1), got {final_drop!r}')
        self.channels = channels
        self.num_codes = num_codes
        self.final_drop = final_drop
        self.conv = ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.encoding = Encoding(channels, num_codes)
        self.dropout = nn.Dropout(final_drop) if final_drop > 0 else None
        self.fc = nn.Linear(num_codes * channels, num_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map ``(N, in_channels, H, W)`` -> L2-normalised encoding ``(N, num_codes * channels)``."""
        if x.dim() != 4:
            raise ValueError(f'DeepTENHead reads feature maps (N, C, H, W), got shape {tuple(x.shape)}; drop the neck')
        codes = self.encoding(self.conv(x))  # (N, K, D)
        return F.normalize(codes.flatten(1), p=2, dim=1, eps=NORMALIZE_EPS)

    def forward(self, feats: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Backbone outputs (the ``in_index`` map) -> logits ``(N, num_classes)``."""
        x = self.encode(self._select(feats))
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x)
