"""Attention over feature maps with a mixture of softmaxes: PyTorch-Encoding's ACF module
(used by its ATTEN head). The mixture follows "Breaking the Softmax Bottleneck" (Yang et al.,
ICLR 2018): ``m`` softmaxes over sub-spaces of the query/key, weighted per sample.
"""

import math

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import nn

from .conv_module import ConvModule

# Shared defaults, never mutated (configs are copied before use).
_BN = dict(type='BN')

KQ_TRANSFORMS = ('conv', 'ffn', 'dffn')


class MixtureOfSoftMaxACF(nn.Module):
    """Scaled dot-product attention with a mixture of ``n_mix`` softmaxes.

    The ``d_k`` query/key channels are split into ``n_mix`` groups of ``d_k / n_mix``; group
    ``i`` gives ``A_i = softmax_j(q_i . k_j / sqrt(d_k))``. With ``n_mix > 1`` the maps are
    mixed by ``pi = softmax_i(W mean_n(q))``, ``W`` ``(n_mix, d_k)`` learned.

    Args:
        n_mix: Number of softmaxes ``m``.
        d_k: Query/key channels, divisible by ``n_mix``.
        attn_dropout: Dropout on the attention maps.

    Shape:
        - Input: ``qt`` ``(B, d_k, N)``, ``kt`` ``(B, d_k, M)``, ``vt`` ``(B, d_v, M)``.
        - Output: ``(out (B, N, d_v), attention (B, N, M))``; attention rows sum to 1 in eval.
    """

    def __init__(self, n_mix: int, d_k: int, attn_dropout: float = 0.1) -> None:
        super().__init__()
        if n_mix < 1 or d_k % n_mix:
            raise ValueError(f'MixtureOfSoftMaxACF: d_k ({d_k}) must be divisible by n_mix ({n_mix}) >= 1')
        self.n_mix = n_mix
        self.d_k = d_k
        self.temperature = math.sqrt(d_k)
        self.dropout = nn.Dropout(attn_dropout)
        if n_mix > 1:
            bound = n_mix**-0.5
            self.weight = nn.Parameter(torch.empty(n_mix, d_k).uniform_(-bound, bound))

    def forward(self, qt: torch.Tensor, kt: torch.Tensor, vt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, d_k, N = qt.shape
        if d_k != self.d_k:
            raise ValueError(f'MixtureOfSoftMaxACF: expected {self.d_k} query channels, got {d_k}')
        m, M = self.n_mix, kt.shape[2]
        q = qt.reshape(B * m, d_k // m, N).transpose(1, 2)
        k = kt.reshape(B * m, d_k // m, M)
        attention = self.dropout(F.softmax(torch.bmm(q, k) / self.temperature, dim=2))
        if m > 1:
            pi = F.softmax(torch.matmul(self.weight, qt.mean(dim=2, keepdim=True)), dim=1)  # (B, m, 1)
            attention = (attention.view(B, m, N, M) * pi.unsqueeze(-1)).sum(dim=1)
        return torch.bmm(attention, vt.transpose(1, 2)), attention


class ACFModule(nn.Module):
    """Multi-head self-attention on a feature map, added to it (or concatenated) after a norm.

    Queries and keys share one projection (as in PyTorch-Encoding); with ``pooling`` keys and
    values come from a 3x3/2 average-pooled map, so attention costs ``N x N/4``. The heads'
    outputs go through a 1x1 conv back to ``d_model`` and a norm layer.

    Args:
        n_head: Number of heads.
        n_mix: Softmaxes per head (:class:`MixtureOfSoftMaxACF`).
        d_model: Input channels ``C``.
        d_k: Query/key channels per head, divisible by ``n_mix``.
        d_v: Value channels per head.
        norm_cfg: Norm of the output (and of the ``'ffn'``/``'dffn'`` projections).
        kq_transform: Query/key projection: ``'conv'`` (1x1), ``'ffn'`` (3x3 + norm + ReLU +
            1x1) or ``'dffn'`` (the same with a dilation-4 3x3).
        pooling: Average-pool the keys and values (3x3, stride 2).
        concat: Return ``[norm(out), x]`` (``2C`` channels) instead of ``norm(out) + x``.
        attn_dropout: Dropout on the attention maps.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H, W)``, or ``(N, 2C, H, W)`` with ``concat``.
    """

    def __init__(
        self,
        n_head: int,
        n_mix: int,
        d_model: int,
        d_k: int,
        d_v: int,
        *,
        norm_cfg: dict = _BN,
        kq_transform: str = 'conv',
        pooling: bool = True,
        concat: bool = False,
        attn_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if kq_transform not in KQ_TRANSFORMS:
            raise ValueError(f'ACFModule: kq_transform must be one of {KQ_TRANSFORMS}, got {kq_transform!r}')
        self.n_head, self.d_k, self.d_v = n_head, d_k, d_v
        self.concat = concat
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False) if pooling else None
        if kq_transform == 'conv':
            self.conv_qk = nn.Conv2d(d_model, n_head * d_k, 1)
            nn.init.normal_(self.conv_qk.weight, std=math.sqrt(2.0 / (d_model + d_k)))
        else:
            dilation = 1 if kq_transform == 'ffn' else 4
            last = nn.Conv2d(n_head * d_k, n_head * d_k, 1)
            nn.init.normal_(last.weight, std=math.sqrt(1.0 / d_k))
            self.conv_qk = nn.Sequential(
                ConvModule(d_model, n_head * d_k, 3, padding=dilation, dilation=dilation, norm_cfg=norm_cfg),
                last,
            )
        self.conv_v = nn.Conv2d(d_model, n_head * d_v, 1)
        nn.init.normal_(self.conv_v.weight, std=math.sqrt(2.0 / (d_model + d_v)))
        self.attention = MixtureOfSoftMaxACF(n_mix, d_k, attn_dropout)
        self.conv_out = nn.Conv2d(n_head * d_v, d_model, 1, bias=False)
        self.norm = build_norm_layer(norm_cfg, d_model)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        heads = b * self.n_head
        qt = self.conv_qk(x).reshape(heads, self.d_k, h * w)
        context = x if self.pool is None else self.pool(x)
        kt = qt if self.pool is None else self.conv_qk(context).reshape(heads, self.d_k, -1)
        vt = self.conv_v(context).reshape(heads, self.d_v, -1)
        out, _ = self.attention(qt, kt, vt)  # (b * n_head, h * w, d_v)
        out = out.transpose(1, 2).reshape(b, self.n_head * self.d_v, h, w)
        out = self.norm(self.conv_out(out))
        return torch.cat([out, x], dim=1) if self.concat else out + x
