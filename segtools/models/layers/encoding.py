"""The Encoding layer (Zhang et al., "Deep TEN: Texture Encoding Network", CVPR 2017; used by
EncNet, "Context Encoding for Semantic Segmentation", CVPR 2018) and its scale-dropout variant."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from segtools.ops.encoding import aggregate, scaled_l2


class _CodewordEncoder(nn.Module):
    """Shared part of :class:`Encoding` and :class:`EncodingDrop`: the codewords, the input
    checks and the soft-assignment residual encoding; subclasses choose the smoothing factors.

    Args:
        channels: Feature channels ``D``.
        num_codes: Number of codewords ``K``.
    """

    def __init__(self, channels: int, num_codes: int) -> None:
        super().__init__()
        self.channels = channels
        self.num_codes = num_codes
        self.codewords = nn.Parameter(torch.empty(num_codes, channels))
        self.reset_codewords()

    def reset_codewords(self) -> None:
        """Initialises the codewords from ``U(-1/sqrt(K*D), 1/sqrt(K*D))``."""
        bound = 1.0 / math.sqrt(self.num_codes * self.channels)
        nn.init.uniform_(self.codewords, -bound, bound)

    def encode(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Soft-assigns the features of ``x`` to the codewords and sums the residuals.

        Args:
            x: Features, shape ``(B, D, H, W)`` or ``(B, D, N)``.
            scale: Smoothing factors ``s``, shape ``(K,)``.

        Returns:
            Encoded features ``E``, shape ``(B, K, D)``:
            ``E[b, k] = sum_n A[b, n, k] (x_n - c_k)`` with
            ``A[b, n] = softmax_k(s_k ||x_n - c_k||^2)``.
        """
        if x.dim() not in (3, 4) or x.shape[1] != self.channels:
            raise ValueError(
                f'{type(self).__name__}: x must have shape (B, {self.channels}, H, W) or '
                f'(B, {self.channels}, N), got shape {tuple(x.shape)}'
            )
        # A transposed view: the ops take it without a copy and return its gradient in x's layout.
        X = x.flatten(2).transpose(1, 2)
        A = F.softmax(scaled_l2(X, self.codewords, scale), dim=2)
        return aggregate(A, X, self.codewords)

    def extra_repr(self) -> str:
        return f'channels={self.channels}, num_codes={self.num_codes}'


class Encoding(_CodewordEncoder):
    """Residual encoder with learnable codewords ``C`` (K, D) and smoothing factors ``s`` (K,).

    Each feature is soft-assigned to the codewords by ``softmax_k(s_k ||x - c_k||^2)`` and the
    assignment-weighted residuals ``x - c_k`` are summed over all positions.

    Args:
        channels: Feature channels ``D``.
        num_codes: Number of codewords ``K``.
    """

    def __init__(self, channels: int, num_codes: int) -> None:
        super().__init__(channels, num_codes)
        self.scale = nn.Parameter(torch.empty(num_codes))
        nn.init.uniform_(self.scale, -1.0, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encodes ``x`` (B, D, H, W) or (B, D, N) into (B, K, D)."""
        return self.encode(x, self.scale)


class EncodingDrop(_CodewordEncoder):
    """:class:`Encoding` with "scale dropout" (PyTorch-Encoding's ``EncodingDrop``).

    The smoothing factors are not learnt: every training forward draws them afresh from
    ``U(-1, 0)``, and evaluation uses ``-0.5`` (their mean). Unlike the original, which
    overwrote a parameter in place, there is no ``scale`` parameter, so no parameter goes
    without a gradient (which DistributedDataParallel would reject).

    Args:
        channels: Feature channels ``D``.
        num_codes: Number of codewords ``K``.
    """

    eval_scale = -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encodes ``x`` (B, D, H, W) or (B, D, N) into (B, K, D)."""
        codewords = self.codewords
        if self.training:
            scale = torch.empty(self.num_codes, dtype=codewords.dtype, device=codewords.device).uniform_(-1.0, 0.0)
        else:
            scale = torch.full((self.num_codes,), self.eval_scale, dtype=codewords.dtype, device=codewords.device)
        return self.encode(x, scale)
