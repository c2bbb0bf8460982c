"""The context encoding module of EncNet ("Context Encoding for Semantic Segmentation", Zhang et
al., CVPR 2018)."""

import torch
from mmcv.cnn import build_norm_layer
from torch import nn

from .conv_module import ConvModule
from .encoding import Encoding

# Shared defaults, never mutated (configs are copied before use).
_RELU = dict(type='ReLU')
_BN = dict(type='BN')


def _norm_1d_cfg(norm_cfg: dict | None) -> dict:
    """The 1-d counterpart of a 2-d ``norm_cfg``, for the ``(N, K, D)`` codes (MMSegmentation's rule).

    ``'BN'``/``'IN'`` get ``'1d'``, a ``'2d'`` in the name becomes ``'1d'`` (``'BN2d'``), others
    (SyncBN, GN, ...) take ``(N, C, L)`` as is; without a norm the codes still get ``BN1d``.
    """
    if norm_cfg is None:
        return dict(type='BN1d')
    norm_type = norm_cfg['type']
    norm_type = norm_type + '1d' if norm_type in ('BN', 'IN') else norm_type.replace('2d', '1d')
    return {**norm_cfg, 'type': norm_type}


class EncModule(nn.Module):
    """Encodes the global context of a feature map and gates its channels with it.

    ``x -> 1x1 ConvModule -> Encoding (K codewords) -> norm over the K codes -> ReLU -> mean
    over K`` gives the context vector ``e`` ``(N, C)``; the output is
    ``relu(x + x * sigmoid(fc(e)))``. Heads predict the classes present in the image from
    ``e`` (the SE loss).

    Args:
        channels: Channels ``C`` of the input (and of the codewords).
        num_codes: Number of codewords ``K``.
        conv_cfg: Conv config of the projection.
        norm_cfg: Norm config of the projection; its 1-d counterpart normalises the codes
            (``'BN'`` -> ``'BN1d'``; SyncBN is used as is; ``None``: no norm in the
            projection and ``BN1d`` for the codes, as MMSegmentation).
        act_cfg: Activation config of the projection.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(gated (N, C, H, W), context (N, C))``.
    """

    def __init__(
        self,
        channels: int,
        num_codes: int,
        *,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = _BN,
        act_cfg: dict | None = _RELU,
    ) -> None:
        super().__init__()
        self.encoding_project = ConvModule(channels, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.encoding = Encoding(channels, num_codes)
        self.codes_norm = build_norm_layer(_norm_1d_cfg(norm_cfg), num_codes)[1]
        self.fc = nn.Linear(channels, channels)

    def gate(self, context: torch.Tensor) -> torch.Tensor:
        """Channel gate in (0, 1), shape ``(N, C)``, from the context vector ``(N, C)``."""
        return torch.sigmoid(self.fc(context))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Not in place: a custom norm (SyncBN) may return a view that autograd forbids modifying.
        codes = torch.relu(self.codes_norm(self.encoding(self.encoding_project(x))))  # (N, K, C)
        context = codes.mean(dim=1)
        gated = x + x * self.gate(context)[:, :, None, None]
        return torch.relu(gated), context
