"""The two ops of the Encoding layer (Zhang et al., "Deep TEN: Texture Encoding Network",
CVPR 2017; "Context Encoding for Semantic Segmentation", CVPR 2018).

``scaled_l2`` gives the smoothed distances of every feature to every codeword and
``aggregate`` the assignment-weighted residuals. The kernels (``csrc/encoding.h``) never form
the ``(B, N, K, D)`` residual tensor that the references below broadcast: they rewrite both
ops as GEMMs plus small fix-ups, so memory stays at the size of the inputs.
"""

import torch
from torch.autograd.function import once_differentiable

from ._ext import get_ext
from ._utils import check_same_dtype_device, check_size, check_tensor, float32_under_autocast

__all__ = [
    'scaled_l2',
    'aggregate',
    'scaled_l2_reference',
    'aggregate_reference',
    'ScaledL2Function',
    'AggregateFunction',
]


def scaled_l2_reference(X: torch.Tensor, C: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """Scaled squared distances, by broadcasting (plain PyTorch; memory ``B*N*K*D``).

    ``SL[b, n, k] = S[k] * ||X[b, n] - C[k]||^2``.

    Args:
        X: Features, shape ``(B, N, D)``.
        C: Codewords, shape ``(K, D)``.
        S: Smoothing factors, shape ``(K,)``.

    Returns:
        ``SL``, shape ``(B, N, K)``.
    """
    return S * (X.unsqueeze(2) - C).pow(2).sum(dim=3)


def aggregate_reference(A: torch.Tensor, X: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Assignment-weighted sum of residuals, by broadcasting (plain PyTorch; memory ``B*N*K*D``).

    ``E[b, k] = sum_n A[b, n, k] * (X[b, n] - C[k])``.

    Args:
        A: Assignment weights, shape ``(B, N, K)``.
        X: Features, shape ``(B, N, D)``.
        C: Codewords, shape ``(K, D)``.

    Returns:
        ``E``, shape ``(B, K, D)``.
    """
    return (A.unsqueeze(3) * (X.unsqueeze(2) - C)).sum(dim=1)


def _kernel_function(class_name: str, op: str) -> type[torch.autograd.Function]:
    """An autograd Function over ``ext.<op>_forward`` / ``ext.<op>_backward``.

    ``apply(ext, *inputs)``: the forward saves the inputs and returns ``<op>_forward(*inputs)``;
    the backward returns ``<op>_backward(grad, *inputs)``, one gradient per input.
    """

    def forward(ctx, ext, *inputs: torch.Tensor) -> torch.Tensor:
        ctx.ext = ext
        ctx.save_for_backward(*inputs)
        return getattr(ext, f'{op}_forward')(*inputs)

    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        return None, *getattr(ctx.ext, f'{op}_backward')(grad, *ctx.saved_tensors)

    namespace = dict(
        forward=staticmethod(forward),
        backward=staticmethod(backward),
        __doc__=f':func:`{op}` through the compiled kernels (``ext.{op}_forward/backward``).',
        __module__=__name__,
    )
    return type(class_name, (torch.autograd.Function,), namespace)


ScaledL2Function = _kernel_function('ScaledL2Function', 'scaled_l2')
AggregateFunction = _kernel_function('AggregateFunction', 'aggregate')


@float32_under_autocast
def scaled_l2(X: torch.Tensor, C: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """Scaled squared distances between features and codewords.

    ``SL[b, n, k] = S[k] * ||X[b, n] - C[k]||^2``. Differentiable in all inputs; ``S`` may
    contain zeros. Under autocast, float16/bfloat16 inputs are computed in float32 (the
    expansion ``||x||^2 + ||c||^2 - 2 x.c`` cancels too much for half precision).

    Args:
        X: Features, shape ``(B, N, D)``; any layout (a transposed ``(B, D, N)`` view is
            used without a copy).
        C: Codewords, shape ``(K, D)``.
        S: Smoothing factors, shape ``(K,)``.

    Returns:
        ``SL``, shape ``(B, N, K)``.

    Raises:
        ValueError: If a shape, dtype or device does not match.
    """
    op = 'scaled_l2'
    check_tensor(op, 'X', X, '(B, N, D)', 3)
    check_tensor(op, 'C', C, '(K, D)', 2)
    check_tensor(op, 'S', S, '(K,)', 1)
    check_size(op, 'C', C, 1, X.shape[2], '(K, D)', 'D of X')
    check_size(op, 'S', S, 0, C.shape[0], '(K,)', 'K of C')
    check_same_dtype_device(op, [('X', X), ('C', C), ('S', S)])
    ext = get_ext(op, X.device)
    if ext is None:
        return scaled_l2_reference(X, C, S)
    return ScaledL2Function.apply(ext, X, C, S)


@float32_under_autocast
def aggregate(A: torch.Tensor, X: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Assignment-weighted sum of the residuals of features to codewords.

    ``E[b, k] = sum_n A[b, n, k] * (X[b, n] - C[k])``. Differentiable in all inputs; under
    autocast, float16/bfloat16 inputs are computed in float32.

    Args:
        A: Assignment weights, shape ``(B, N, K)``.
        X: Features, shape ``(B, N, D)``; any layout (a transposed ``(B, D, N)`` view is
            used without a copy).
        C: Codewords, shape ``(K, D)``.

    Returns:
        ``E``, shape ``(B, K, D)``.

    Raises:
        ValueError: If a shape, dtype or device does not match.
    """
    op = 'aggregate'
    check_tensor(op, 'A', A, '(B, N, K)', 3)
    check_tensor(op, 'X', X, '(B, N, D)', 3)
    check_tensor(op, 'C', C, '(K, D)', 2)
    check_size(op, 'X', X, 0, A.shape[0], '(B, N, D)', 'B of A')
    check_size(op, 'X', X, 1, A.shape[1], '(B, N, D)', 'N of A')
    check_size(op, 'C', C, 0, A.shape[2], '(K, D)', 'K of A')
    check_size(op, 'C', C, 1, X.shape[2], '(K, D)', 'D of X')
    check_same_dtype_device(op, [('A', A), ('X', X), ('C', C)])
    ext = get_ext(op, X.device)
    if ext is None:
        return aggregate_reference(A, X, C)
    return AggregateFunction.apply(ext, A, X, C)
