"""Cross-entropy of bilinearly upsampled logits, without storing the upsampled logits.

A decode head predicts at 1/8 (or 1/4) of the label size, and its loss is
``F.cross_entropy(F.interpolate(logits, label_size, mode='bilinear'), label)``. The upsampled
logits, ``N x K x H x W``, are the largest tensors of a training step (300 MiB for 2 x 150
classes x 512 x 512), written once by the upsampling, read and written again by the
log-softmax, kept for the backward, and read by the accuracy. The kernel
(``csrc/upsampled_cross_entropy.h``) computes each pixel's ``K`` logits from the four
low-resolution taps in a scratch buffer instead: the forward keeps the per-pixel
log-sum-exp, the backward recomputes the pixel's logits and scatters its gradient straight
to the low-resolution taps. Losses, gradients and the argmax equal the plain-PyTorch form
(:func:`upsampled_cross_entropy_reference`) to rounding.

CPU only: on CUDA (and without the extension, or while exporting) the reference runs.
"""

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from segtools.constants import IGNORE_INDEX

from ._ext import get_ext
from ._utils import check_tensor, float32_under_autocast

__all__ = [
    'upsampled_cross_entropy',
    'upsampled_cross_entropy_reference',
    'has_upsampled_cross_entropy_kernel',
    'UpsampledCrossEntropyFunction',
]


def upsampled_cross_entropy_reference(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    align_corners: bool = False,
    class_weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain PyTorch: upsample, then per-pixel cross-entropy and argmax (memory ``N*K*H*W``).

    Args:
        logits: Logits, shape ``(N, K, h, w)``.
        target: Labels, shape ``(N, H, W)``, int64.
        align_corners: ``align_corners`` of the bilinear upsampling.
        class_weight: Per-class weights, shape ``(K,)``.
        ignore_index: Label whose pixels get loss 0.

    Returns:
        ``loss`` (``class_weight[y] * -log softmax(z)[y]`` per pixel, 0 where ignored) and
        ``pred`` (argmax of the upsampled logits ``z``), both ``(N, H, W)``.
    """
    upsampled = F.interpolate(logits, target.shape[-2:], mode='bilinear', align_corners=align_corners)
    loss = F.cross_entropy(upsampled, target, weight=class_weight, reduction='none', ignore_index=ignore_index)
    return loss, upsampled.argmax(dim=1)


class UpsampledCrossEntropyFunction(torch.autograd.Function):
    """:func:`upsampled_cross_entropy` through the compiled kernels; ``pred`` has no gradient."""

    @staticmethod
    def forward(ctx, ext, logits, target, class_weight, align_corners: bool, ignore_index: int):
        loss, lse, pred = ext.upsampled_cross_entropy_forward(logits, target, class_weight, align_corners, ignore_index)
        ctx.ext = ext
        ctx.options = (align_corners, ignore_index)
        ctx.has_class_weight = class_weight is not None
        ctx.save_for_backward(logits, target, lse, *([class_weight] if class_weight is not None else []))
        ctx.mark_non_differentiable(pred)
        return loss, pred

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss: torch.Tensor, grad_pred: torch.Tensor | None):
        logits, target, lse, *rest = ctx.saved_tensors
        class_weight = rest[0] if ctx.has_class_weight else None
        grad = ctx.ext.upsampled_cross_entropy_backward(grad_loss, logits, target, class_weight, lse, *ctx.options)
        return None, grad, None, None, None, None


def has_upsampled_cross_entropy_kernel(device: torch.device) -> bool:
    """Whether :func:`upsampled_cross_entropy` runs the fused kernel (not the reference) on ``device``."""
    return device.type == 'cpu' and get_ext('upsampled_cross_entropy', device) is not None


@float32_under_autocast
def upsampled_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    align_corners: bool = False,
    class_weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel cross-entropy and argmax of the logits bilinearly resized to the labels' size.

    ``F.cross_entropy(F.interpolate(logits, target.shape[-2:], mode='bilinear',
    align_corners=align_corners), target, weight=class_weight, reduction='none',
    ignore_index=ignore_index)`` and the argmax of the resized logits, without storing them
    (module docstring). Differentiable in ``logits``; under autocast, float16/bfloat16 logits
    are computed in float32 (as autocast computes the cross-entropy).

    Args:
        logits: Logits, shape ``(N, K, h, w)``; any layout.
        target: Labels, shape ``(N, H, W)``, int64: class indices or ``ignore_index``.
        align_corners: ``align_corners`` of the bilinear resize.
        class_weight: Per-class weights, shape ``(K,)``.
        ignore_index: Label whose pixels get loss 0 and no gradient.

    Returns:
        ``loss`` and ``pred`` (int64), both ``(N, H, W)``.

    Raises:
        ValueError: If a shape or dtype does not match.
        RuntimeError: If ``target`` holds a label outside ``[0, K)`` other than ``ignore_index``.
    """
    op = 'upsampled_cross_entropy'
    check_tensor(op, 'logits', logits, '(N, K, h, w)', 4)
    if not isinstance(target, torch.Tensor) or target.dtype != torch.int64 or target.dim() != 3:
        raise ValueError(f'{op}: target must be an int64 tensor of shape (N, H, W), got {_describe(target)}')
    if target.shape[0] != logits.shape[0]:
        raise ValueError(
            f'{op}: target must hold one label map per logits map ({logits.shape[0]}), got shape {tuple(target.shape)}'
        )
    if class_weight is not None:
        class_weight = class_weight.to(logits.dtype)
    ext = get_ext(op, logits.device) if logits.device.type == 'cpu' else None
    if ext is None:
        return upsampled_cross_entropy_reference(
            logits, target, align_corners=align_corners, class_weight=class_weight, ignore_index=ignore_index
        )
    return UpsampledCrossEntropyFunction.apply(
        ext, logits, target, class_weight, bool(align_corners), int(ignore_index)
    )


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f'{value.dtype} of shape {tuple(value.shape)}'
    return type(value).__name__
