"""Pure loss functions: tensors in, a tensor out, no state (smp ``losses/_functional.py`` style).

Conventions: ``pred`` holds logits of shape ``(N, C, *)`` (``*`` is ``(H, W)`` for
segmentation and empty for classification-like inputs); ``target`` holds class indices of
shape ``(N, *)``; elements equal to ``ignore_index`` contribute nothing. ``class_weight`` is
a ``(C,)`` tensor and ``weight`` a per-element ``(N, *)`` tensor. The registered modules
(``*_loss.py``) add ``loss_weight`` and ``loss_name``. The Lovasz losses live in ``lovasz.py``,
EncNet's SE loss and its target in ``se_loss.py``.
"""

import torch
import torch.nn.functional as F

from segtools import ops as segtools_ops
from segtools.constants import IGNORE_INDEX

# Keeps a mean over zero valid elements at 0 instead of 0/0 (a crop that is all ignore label).
EPS = torch.finfo(torch.float32).eps


def check_target(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Raises ``ValueError`` unless ``pred`` is ``(N, C, *)`` and ``target`` is ``(N, *)``."""
    if pred.dim() < 2 or target.shape != pred.shape[:1] + pred.shape[2:]:
        expected = tuple(pred.shape[:1] + pred.shape[2:]) if pred.dim() >= 2 else '(N, *)'
        raise ValueError(
            f'target must have shape {expected} (pred (N, C, *) without C), got target of shape '
            f'{tuple(target.shape)} for pred of shape {tuple(pred.shape)}'
        )


def check_class_weight(class_weight: torch.Tensor | None, num_classes: int) -> None:
    """Raises ``ValueError`` unless ``class_weight`` is ``None`` or holds ``num_classes`` entries."""
    if class_weight is not None and (class_weight.dim() != 1 or class_weight.numel() != num_classes):
        raise ValueError(
            f'class_weight must hold one weight per class ({num_classes}), got shape {tuple(class_weight.shape)}'
        )


def reduce_loss(
    loss: torch.Tensor, reduction: str = 'mean', avg_factor: torch.Tensor | float | None = None
) -> torch.Tensor:
    """Reduces element-wise losses.

    Args:
        loss: Element-wise losses, any shape.
        reduction: ``'none'`` (returned as is), ``'sum'`` or ``'mean'``.
        avg_factor: Divisor of ``'mean'`` instead of ``loss.numel()`` (an error with ``'sum'``).

    Returns:
        ``loss`` or a scalar.
    """
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        if avg_factor is not None:
            raise ValueError("avg_factor divides a 'mean'; it cannot be used with reduction='sum'")
        return loss.sum()
    if reduction != 'mean':
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if avg_factor is None:
        return loss.mean()
    if isinstance(avg_factor, torch.Tensor):
        return loss.sum() / avg_factor.clamp(min=EPS)
    return loss.sum() / max(avg_factor, EPS)


def _apply_weight(loss: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return loss
    if weight.shape != loss.shape:
        raise ValueError(f'weight must have shape {tuple(loss.shape)}, got {tuple(weight.shape)}')
    return loss * weight


def _split_ignored(target: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns the valid mask and the target with ignored entries set to class 0 (safe to index with)."""
    valid = target != ignore_index
    return valid, torch.where(valid, target, torch.zeros_like(target))


def _one_hot(index: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """``(N, *)`` class indices -> ``(N, C, *)`` one-hot."""
    return F.one_hot(index, num_classes).movedim(-1, 1).to(dtype)


def _valid_weight_sum(
    target: torch.Tensor, class_weight: torch.Tensor | None, ignore_index: int, dtype: torch.dtype
) -> torch.Tensor:
    """``sum over valid i of class_weight[target_i]`` (the count of valid elements without weights)."""
    valid, index = _split_ignored(target, ignore_index)
    if class_weight is None:
        return valid.sum().to(dtype)
    return (class_weight.to(dtype)[index] * valid).sum()


def cross_entropy(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weight: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = 'mean',
    avg_non_ignore: bool = False,
    avg_factor: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Softmax cross-entropy with MMSegmentation's averaging.

    ``loss_i = -class_weight[y_i] * log softmax(pred_i)[y_i] * weight_i``, 0 where ``y_i`` is
    ``ignore_index``. ``'mean'`` divides the sum by ``target.numel()`` (ignored elements
    included, mmseg's default) or, with ``avg_non_ignore``, by ``sum over valid i of
    class_weight[y_i]`` (torch's weighted mean; the valid count without class weights).

    Args:
        pred: Logits, shape ``(N, C, *)``.
        target: Class indices, shape ``(N, *)``.
        class_weight: Per-class weights, shape ``(C,)``.
        weight: Per-element weights, shape ``(N, *)``.
        ignore_index: Label that contributes nothing.
        reduction: ``'none'`` (shape ``(N, *)``), ``'mean'`` or ``'sum'``.
        avg_non_ignore: Average over the valid elements only.
        avg_factor: Divisor of ``'mean'``, overriding both of the above.

    Returns:
        The loss, a scalar unless ``reduction='none'``.
    """
    check_target(pred, target)
    check_class_weight(class_weight, pred.shape[1])
    if class_weight is not None:
        class_weight = class_weight.to(pred)
    loss = F.cross_entropy(pred, target, weight=class_weight, reduction='none', ignore_index=ignore_index)
    return _reduce_cross_entropy(
        loss, target, class_weight, weight, ignore_index, reduction, avg_non_ignore, avg_factor
    )


def upsampled_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    align_corners: bool = False,
    class_weight: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = 'mean',
    avg_non_ignore: bool = False,
    avg_factor: torch.Tensor | float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`cross_entropy` of the logits bilinearly resized to the labels' size, and their argmax.

    Equal to ``cross_entropy(F.interpolate(logits, target.shape[-2:], mode='bilinear',
    align_corners=align_corners), target, ...)``, computed by :func:`segtools.ops.upsampled_cross_entropy`,
    which does not store the resized logits (on the CPU with the compiled extension).

    Args:
        logits: Low-resolution logits, shape ``(N, C, h, w)``.
        target: Class indices, shape ``(N, H, W)``.
        align_corners: ``align_corners`` of the resize.
        class_weight, weight, ignore_index, reduction, avg_non_ignore, avg_factor: As in
            :func:`cross_entropy` (``weight`` has the shape of ``target``).

    Returns:
        The loss (a scalar unless ``reduction='none'``) and the argmax of the resized logits,
        ``(N, H, W)`` int64.
    """
    check_class_weight(class_weight, logits.shape[1])
    loss, pred = segtools_ops.upsampled_cross_entropy(
        logits, target, align_corners=align_corners, class_weight=class_weight, ignore_index=ignore_index
    )
    if class_weight is not None:
        class_weight = class_weight.to(loss)
    loss = _reduce_cross_entropy(
        loss, target, class_weight, weight, ignore_index, reduction, avg_non_ignore, avg_factor
    )
    return loss, pred


def _reduce_cross_entropy(
    loss: torch.Tensor,
    target: torch.Tensor,
    class_weight: torch.Tensor | None,
    weight: torch.Tensor | None,
    ignore_index: int,
    reduction: str,
    avg_non_ignore: bool,
    avg_factor: torch.Tensor | float | None,
) -> torch.Tensor:
    """Per-element weights and :func:`cross_entropy`'s reduction of its element-wise losses."""
    loss = _apply_weight(loss, weight)
    if avg_factor is None and reduction == 'mean' and avg_non_ignore:
        avg_factor = _valid_weight_sum(target, class_weight, ignore_index, loss.dtype)
    return reduce_loss(loss, reduction, avg_factor)


def binary_cross_entropy(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weight: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = 'mean',
    avg_non_ignore: bool = False,
    avg_factor: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Sigmoid cross-entropy (binary cross-entropy with logits), ignored elements excluded.

    Three forms of ``target``:

    - class indices ``(N, *)`` with one channel (binary segmentation, ``out_channels=1``):
      the target is 0/1 and ``class_weight`` has two entries, the weights of labels 0 and 1;
    - class indices ``(N, *)`` with ``C > 1`` channels: the target is one-hot encoded, each
      channel is an independent sigmoid and ``class_weight`` has ``C`` entries;
    - per-channel targets of ``pred``'s shape ``(N, C, *)`` (multi-label, e.g. EncNet's class
      presence in MMSegmentation's SE loss): 0/1 (or soft) targets, an element is ignored
      where its target is negative or ``ignore_index``; ``class_weight`` has ``C`` entries.

    ``class_weight`` multiplies the whole element loss (MMSegmentation passes it to the BCE as
    ``pos_weight`` instead, which only scales the positive term). ``'mean'`` divides by all
    elements of the element-wise loss or, with ``avg_non_ignore``, by the summed element
    weights of the valid elements.

    Args:
        pred: Logits, shape ``(N, C, *)``.
        target: Class indices, shape ``(N, *)``, or per-channel targets, shape ``(N, C, *)``.
        class_weight: Weights, shape ``(2,)`` for class indices with ``C == 1``, else ``(C,)``.
        weight: Per-element weights, shape ``(N, *)`` (``(N, C, *)`` for per-channel targets).
        ignore_index: Label that contributes nothing.
        reduction: ``'none'``, ``'mean'`` or ``'sum'``.
        avg_non_ignore: Average over the valid elements only.
        avg_factor: Divisor of ``'mean'``, overriding both of the above.

    Returns:
        The loss: a scalar, or with ``reduction='none'`` shape ``(N, *)`` for class indices
        with ``C == 1`` and ``(N, C, *)`` otherwise.
    """
    num_channels = pred.shape[1] if pred.dim() >= 2 else 0
    if target.shape == pred.shape:
        check_class_weight(class_weight, num_channels)
        valid = (target >= 0) & (target != ignore_index)
        labels = torch.where(valid, target, torch.zeros_like(target)).to(pred.dtype)
        element_weight = valid.to(pred.dtype)
        if class_weight is not None:
            element_weight = element_weight * class_weight.to(pred).view(1, -1, *[1] * (pred.dim() - 2))
        loss = F.binary_cross_entropy_with_logits(pred, labels, reduction='none') * element_weight
        loss = _apply_weight(loss, weight)
        if avg_factor is None and reduction == 'mean' and avg_non_ignore:
            avg_factor = element_weight.sum()
        return reduce_loss(loss, reduction, avg_factor)
    check_target(pred, target)
    valid, index = _split_ignored(target, ignore_index)
    element_weight = valid.unsqueeze(1).to(pred.dtype)
    if num_channels == 1:
        if class_weight is not None and class_weight.numel() == 1:
            raise ValueError(
                'class_weight of a single-channel sigmoid prediction needs 2 entries (the weights of labels 0 '
                "and 1), got 1; MMSegmentation's one-entry form is the BCE pos_weight, which segtools does not take"
            )
        check_class_weight(class_weight, 2)
        labels = index.unsqueeze(1).to(pred.dtype)
        if class_weight is not None:
            element_weight = element_weight * class_weight.to(pred)[index].unsqueeze(1)
    else:
        check_class_weight(class_weight, num_channels)
        labels = _one_hot(index, num_channels, pred.dtype)
        element_weight = element_weight.expand_as(pred)
        if class_weight is not None:
            element_weight = element_weight * class_weight.to(pred).view(1, -1, *[1] * (pred.dim() - 2))
    loss = F.binary_cross_entropy_with_logits(pred, labels, reduction='none') * element_weight
    if weight is not None:
        loss = _apply_weight(loss, weight.unsqueeze(1).expand_as(loss))
    if num_channels == 1:
        loss = loss.squeeze(1)
    if avg_factor is None and reduction == 'mean' and avg_non_ignore:
        avg_factor = element_weight.sum()
    return reduce_loss(loss, reduction, avg_factor)


def ohem_cross_entropy(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    thresh: float = 0.7,
    min_kept: int = 100000,
    class_weight: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Cross-entropy over the hard pixels only (online hard example mining, as in OCNet).

    Over the whole batch, keeps the valid pixels whose softmax probability of their true
    class is below ``thresh``. When fewer than ``min_kept`` are, keeps the ``min_kept``
    lowest-probability valid pixels instead (pixels tied with the last one kept too; all
    valid pixels when there are fewer). The selection carries no gradient and needs no
    host sync.

    Args:
        pred: Logits, shape ``(N, C, *)``.
        target: Class indices, shape ``(N, *)``.
        thresh: Probability below which a pixel is hard.
        min_kept: Least number of pixels kept.
        class_weight: Per-class weights, shape ``(C,)``.
        weight: Per-element weights, shape ``(N, *)`` (numerator only, like ``cross_entropy``).
        ignore_index: Label that is never kept.

    Returns:
        ``sum over kept i of class_weight[y_i] * weight_i * nll_i / sum over kept i of
        class_weight[y_i]``, a scalar (0 when nothing is kept).
    """
    check_target(pred, target)
    check_class_weight(class_weight, pred.shape[1])
    valid, index = _split_ignored(target, ignore_index)
    nll = -F.log_softmax(pred, dim=1).gather(1, index.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        prob = torch.exp(-nll)
        kept = valid & (prob < thresh)
        num_kept = min(min_kept, prob.numel())
        if num_kept > 0:
            # The num_kept-th lowest valid probability (inf with fewer valid pixels): when at least
            # num_kept pixels are hard it lies below thresh and adds nothing, else it is the cut.
            ranked = torch.where(valid, prob, torch.full_like(prob, float('inf'))).flatten()
            cut = ranked.kthvalue(num_kept).values
            kept |= valid & (prob <= cut)
    pixel_weight = kept.to(pred.dtype)
    if class_weight is not None:
        pixel_weight = pixel_weight * class_weight.to(pred)[index]
    loss = _apply_weight(nll * pixel_weight, weight)
    return reduce_loss(loss, 'mean', pixel_weight.sum())


def label_smoothing_cross_entropy(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    smoothing: float = 0.1,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = 'mean',
    avg_non_ignore: bool = False,
) -> torch.Tensor:
    """Label-smoothed cross-entropy (PyTorch-Encoding's ``LabelSmoothing``).

    ``loss_i = (1 - smoothing) * -log p_i[y_i] + smoothing * mean_c(-log p_i[c])``, 0 where
    ``y_i`` is ``ignore_index``; averaged like :func:`cross_entropy`, which it equals at
    ``smoothing=0``.

    Args:
        pred: Logits, shape ``(N, C, *)``.
        target: Class indices, shape ``(N, *)``.
        smoothing: ``epsilon`` in ``[0, 1]``.
        weight: Per-element weights, shape ``(N, *)``.
        ignore_index: Label that contributes nothing.
        reduction: ``'none'`` (shape ``(N, *)``), ``'mean'`` or ``'sum'``.
        avg_non_ignore: Average over the valid elements only.

    Returns:
        The loss, a scalar unless ``reduction='none'``.
    """
    check_target(pred, target)
    valid, index = _split_ignored(target, ignore_index)
    log_prob = F.log_softmax(pred, dim=1)
    nll = -log_prob.gather(1, index.unsqueeze(1)).squeeze(1)
    uniform = -log_prob.mean(dim=1)
    loss = _apply_weight(((1 - smoothing) * nll + smoothing * uniform) * valid, weight)
    avg_factor = valid.sum().to(pred.dtype) if reduction == 'mean' and avg_non_ignore else None
    return reduce_loss(loss, reduction, avg_factor)


def soft_target_cross_entropy(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = 'mean',
    avg_non_ignore: bool = False,
) -> torch.Tensor:
    """Cross-entropy against soft targets (mixup; PyTorch-Encoding's ``NLLMultiLabelSmooth``).

    ``loss_i = -sum_c t_i[c] log softmax(pred_i)[c]``. Integer targets are one-hot encoded
    with ignored elements as all-zero rows, so hard labels give :func:`cross_entropy`. An
    element is valid when its target row sums to more than 0 (what ``avg_non_ignore`` counts).

    Args:
        pred: Logits, shape ``(N, C, *)``.
        target: Probabilities, shape ``(N, C, *)``, or class indices, shape ``(N, *)``.
        weight: Per-element weights, shape ``(N, *)``.
        ignore_index: Label of integer targets that contributes nothing.
        reduction: ``'none'`` (shape ``(N, *)``), ``'mean'`` or ``'sum'``.
        avg_non_ignore: Average over the valid elements only.

    Returns:
        The loss, a scalar unless ``reduction='none'``.
    """
    if target.is_floating_point():
        if target.shape != pred.shape:
            raise ValueError(f'soft target must have the shape of pred {tuple(pred.shape)}, got {tuple(target.shape)}')
        soft = target.to(pred.dtype)
    else:
        check_target(pred, target)
        valid, index = _split_ignored(target, ignore_index)
        soft = _one_hot(index, pred.shape[1], pred.dtype) * valid.unsqueeze(1)
    loss = _apply_weight(-(soft * F.log_softmax(pred, dim=1)).sum(dim=1), weight)
    avg_factor = (soft.sum(dim=1) > 0).sum().to(pred.dtype) if reduction == 'mean' and avg_non_ignore else None
    return reduce_loss(loss, reduction, avg_factor)


def class_probabilities(pred: torch.Tensor) -> torch.Tensor:
    """Softmax over classes; a single channel is a binary sigmoid, given as ``(1 - p, p)``.

    Args:
        pred: Logits, shape ``(N, C, *)``.

    Returns:
        Probabilities, shape ``(N, max(C, 2), *)``.
    """
    if pred.shape[1] == 1:
        foreground = pred.sigmoid()
        return torch.cat([1 - foreground, foreground], dim=1)
    return pred.softmax(dim=1)


def dice_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth: float = 1.0,
    exponent: float = 2.0,
    class_weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = 'mean',
) -> torch.Tensor:
    """Dice loss of softmax probabilities against one-hot targets (mmseg 0.x ``DiceLoss``).

    Per image ``n`` and class ``c``, over the valid pixels ``i``:
    ``dice[n, c] = 1 - (2 sum_i p[c] g[c] + smooth) / (sum_i p[c]^e + g[c]^e + smooth)``;
    the image's loss is ``mean_c(class_weight[c] * dice[n, c])``. Unlike mmseg 0.x, ignored
    pixels are masked in the denominator too. One logit channel means a binary sigmoid.

    Args:
        pred: Logits, shape ``(N, C, *)``.
        target: Class indices, shape ``(N, *)``.
        smooth: Added to numerator and denominator.
        exponent: ``e``, the power of the denominator's terms.
        class_weight: Per-class weights, shape ``(max(C, 2),)``.
        ignore_index: Label whose pixels are masked.
        reduction: Over images: ``'none'`` (shape ``(N,)``), ``'mean'`` or ``'sum'``.

    Returns:
        The loss, a scalar unless ``reduction='none'``.
    """
    check_target(pred, target)
    probs = class_probabilities(pred)
    num_images, num_classes = probs.shape[:2]
    check_class_weight(class_weight, num_classes)
    valid, index = _split_ignored(target, ignore_index)
    mask = valid.unsqueeze(1).to(probs.dtype)
    probs = (probs * mask).reshape(num_images, num_classes, -1)
    one_hot = (_one_hot(index, num_classes, probs.dtype) * mask).reshape(num_images, num_classes, -1)
    numerator = 2 * (probs * one_hot).sum(dim=2) + smooth
    denominator = (probs.pow(exponent) + one_hot.pow(exponent)).sum(dim=2) + smooth
    per_class = 1 - numerator / denominator
    if class_weight is not None:
        per_class = per_class * class_weight.to(per_class)
    return reduce_loss(per_class.mean(dim=1), reduction)
