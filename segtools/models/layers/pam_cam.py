"""Position and channel self-attention of DANet ("Dual Attention Network for Scene
Segmentation", Fu et al., CVPR 2019).

Both end in ``x + gamma * attended`` with ``gamma`` initialised to 0, so a fresh module is
the identity and the network learns how much context to mix in.
"""

import torch
import torch.nn.functional as F
from torch import nn


class PAM(nn.Module):
    """Position attention: every position attends to every other.

    ``A = softmax_j(q_i . k_j)`` over the ``N = H*W`` positions, with queries and keys from
    1x1 convs to ``key_channels`` and values from a 1x1 conv to ``C``;
    ``out_i = x_i + gamma * sum_j A_ij v_j``.

    Args:
        in_channels: Channels ``C``.
        key_channels: Channels of queries and keys; ``C // 8`` (DANet) when ``None``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H, W)``.
    """

    def __init__(self, in_channels: int, key_channels: int | None = None) -> None:
        super().__init__()
        key_channels = key_channels or max(in_channels // 8, 1)
        self.query_conv = nn.Conv2d(in_channels, key_channels, 1)
        self.key_conv = nn.Conv2d(in_channels, key_channels, 1)
        self.value_conv = nn.Conv2d(in_channels, in_channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        query = self.query_conv(x).flatten(2).transpose(1, 2)  # (B, N, Ck)
        key = self.key_conv(x).flatten(2)  # (B, Ck, N)
        value = self.value_conv(x).flatten(2)  # (B, C, N)
        attention = F.softmax(torch.bmm(query, key), dim=-1)  # (B, N, N), rows sum to 1
        out = torch.bmm(value, attention.transpose(1, 2)).view_as(x)
        return x + self.gamma * out


class CAM(nn.Module):
    """Channel attention: every channel attends to every other, no projections.

    ``energy = X X^T`` over channels (``X`` is ``(C, N)``); DANet takes the softmax of
    ``max_j(energy_ij) - energy_ij``, which favours *dissimilar* channels and keeps the
    exponent non-positive; ``out = x + gamma * softmax(...) X``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H, W)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        X = x.flatten(2)  # (B, C, N)
        energy = torch.bmm(X, X.transpose(1, 2))  # (B, C, C)
        energy = energy.amax(dim=-1, keepdim=True) - energy
        attention = F.softmax(energy, dim=-1)
        out = torch.bmm(attention, X).view_as(x)
        return x + self.gamma * out
