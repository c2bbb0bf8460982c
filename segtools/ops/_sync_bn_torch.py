"""The four SyncBN kernels in plain PyTorch, with the extension's signatures.

They run the distributed algorithm (and in-place ABN) when ``segtools._ext`` is
missing, so that the algorithm itself is written once, in
:class:`segtools.ops.sync_bn.SyncBatchNormFunction`, and only the kernels differ.
Tensors are ``(N, C, L)`` and per-channel ``(C,)``; ``activation`` is the code of
:data:`ACTIVATIONS`.
"""

from types import SimpleNamespace

import torch
import torch.nn.functional as F

ACTIVATIONS = {'identity': 0, 'relu': 1, 'leaky_relu': 2}
# In-place ABN divides by the weight to recover x from y; weights are kept at
# least this far from 0 (see sync_batch_norm).
MIN_INPLACE_WEIGHT = 1e-5


def activate(z: torch.Tensor, activation: str, slope: float) -> torch.Tensor:
    if activation == 'relu':
        return F.relu(z)
    if activation == 'leaky_relu':
        return F.leaky_relu(z, slope)
    return z


def _centred_and_dz(
    grad_y: torch.Tensor,
    saved: torch.Tensor,
    mean: torch.Tensor,
    invstd: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    activation: int,
    slope: float,
    saved_is_output: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns ``(xhat, dz)``, both ``(N, C, L)``, for saved x or (in-place ABN) saved y."""
    w, b = weight[:, None], bias[:, None]
    if saved_is_output:
        z = torch.where(saved > 0, saved, saved / slope) if activation == ACTIVATIONS['leaky_relu'] else saved
        xhat = (z - b) / w
    else:
        xhat = (saved - mean[:, None]) * invstd[:, None]
        z = xhat * w + b
    if activation == ACTIVATIONS['relu']:
        dz = torch.where(z > 0, grad_y, torch.zeros_like(grad_y))
    elif activation == ACTIVATIONS['leaky_relu']:
        dz = torch.where(z > 0, grad_y, grad_y * slope)
    else:
        dz = grad_y
    return xhat, dz


def _torch_stats(x: torch.Tensor) -> list[torch.Tensor]:
    if x.shape[0] * x.shape[2] == 0:
        zeros = x.new_zeros(x.shape[1])
        return [zeros, zeros.clone()]
    mean = x.mean(dim=(0, 2))
    return [mean, (x - mean[:, None]).square().sum(dim=(0, 2))]


def _torch_forward(
    x: torch.Tensor,
    mean: torch.Tensor,
    invstd: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    activation: int,
    slope: float,
    inplace: bool,
) -> torch.Tensor:
    z = (x - mean[:, None]) * (invstd * weight)[:, None] + bias[:, None]
    name = next(k for k, v in ACTIVATIONS.items() if v == activation)
    y = activate(z, name, slope)
    return x.copy_(y) if inplace else y


def _torch_backward_reduce(
    grad_y: torch.Tensor,
    saved: torch.Tensor,
    mean: torch.Tensor,
    invstd: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    activation: int,
    slope: float,
    saved_is_output: bool,
) -> list[torch.Tensor]:
    xhat, dz = _centred_and_dz(grad_y, saved, mean, invstd, weight, bias, activation, slope, saved_is_output)
    return [dz.sum(dim=(0, 2)), (dz * xhat).sum(dim=(0, 2))]


def _torch_backward_elemt(
    grad_y: torch.Tensor,
    saved: torch.Tensor,
    mean: torch.Tensor,
    invstd: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    mean_dz: torch.Tensor,
    mean_dz_xhat: torch.Tensor,
    activation: int,
    slope: float,
    saved_is_output: bool,
) -> torch.Tensor:
    xhat, dz = _centred_and_dz(grad_y, saved, mean, invstd, weight, bias, activation, slope, saved_is_output)
    return (weight * invstd)[:, None] * (dz - mean_dz[:, None] - xhat * mean_dz_xhat[:, None])


TORCH_KERNELS = SimpleNamespace(
    sync_bn_stats=_torch_stats,
    sync_bn_forward=_torch_forward,
    sync_bn_backward_reduce=_torch_backward_reduce,
    sync_bn_backward_elemt=_torch_backward_elemt,
)
