"""Lovasz losses, pure functions (Berman et al., "The Lovasz-Softmax loss: A tractable
surrogate for the optimization of the intersection-over-union measure in neural networks",
CVPR 2018). The registered module is ``lovasz_loss.LovaszLoss``."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from segtools.constants import IGNORE_INDEX

from .functional import check_class_weight, check_target, class_probabilities, reduce_loss


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss (Berman et al., Alg. 1).

    Args:
        gt_sorted: 0/1 ground truth sorted by decreasing error along dim 0, shape ``(P, *)``
            (each trailing column, e.g. each class, is a separate problem).

    Returns:
        ``J[0], J[1] - J[0], ...`` where ``J[j]`` is the Jaccard loss of predicting the
        first ``j + 1`` sorted elements as foreground, shape ``(P, *)``.
    """
    gts = gt_sorted.sum(dim=0)
    intersection = gts - gt_sorted.cumsum(dim=0)
    # At least 1: the first element is foreground (gts >= 1) or background (cumsum >= 1).
    union = gts + (1 - gt_sorted).cumsum(dim=0)
    jaccard = 1 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]], dim=0)


def _valid_pixels(probs: torch.Tensor, target: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, C, *)`` probabilities and ``(N, *)`` labels -> ``(P, C)`` and ``(P,)`` over valid pixels."""
    probs = probs.movedim(1, -1).reshape(-1, probs.shape[1])
    labels = target.reshape(-1)
    valid = labels != ignore_index
    return probs[valid], labels[valid]


def _lovasz_softmax_flat(
    probs: torch.Tensor,
    labels: torch.Tensor,
    classes: str | Sequence[int],
    class_weight: torch.Tensor | None,
) -> torch.Tensor:
    """Lovasz-softmax of ``(P, C)`` probabilities and ``(P,)`` labels, all classes sorted at once."""
    num_classes = probs.shape[1]
    foreground = F.one_hot(labels, num_classes).to(probs.dtype)
    errors = (foreground - probs).abs()
    errors_sorted, order = errors.sort(dim=0, descending=True)
    per_class = (errors_sorted * lovasz_grad(foreground.gather(0, order))).sum(dim=0)
    if class_weight is not None:
        per_class = per_class * class_weight.to(per_class)
    if classes == 'all':
        selected = torch.ones_like(per_class)
    elif classes == 'present':
        selected = (foreground.sum(dim=0) > 0).to(per_class.dtype)
    else:
        if max(classes) >= num_classes:
            raise ValueError(f'classes {list(classes)} name a class beyond the {num_classes} of the prediction')
        selected = torch.zeros_like(per_class)
        selected[list(classes)] = 1
    # No selected class (every pixel ignored) gives 0, still attached to the graph.
    return (per_class * selected).sum() / selected.sum().clamp(min=1)


def lovasz_softmax(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    classes: str | Sequence[int] = 'present',
    per_image: bool = False,
    class_weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = 'mean',
) -> torch.Tensor:
    """Lovasz-softmax loss: the Lovasz extension of ``1 - IoU`` per class on softmax probabilities.

    Ignored pixels are dropped. The class losses (times ``class_weight``) are averaged over
    ``classes``; one logit channel means a binary sigmoid with classes (background, foreground).

    Args:
        pred: Logits, shape ``(N, C, *)``.
        target: Class indices, shape ``(N, *)``.
        classes: ``'all'``, ``'present'`` (classes in the valid labels) or a list of class ids.
        per_image: Compute the loss per image and reduce over images, else over the batch.
        class_weight: Per-class weights, shape ``(max(C, 2),)``.
        ignore_index: Label whose pixels are dropped.
        reduction: With ``per_image``: ``'none'`` (shape ``(N,)``), ``'mean'`` or ``'sum'``.

    Returns:
        The loss, a scalar unless ``per_image`` and ``reduction='none'``.
    """
    check_target(pred, target)
    probs = class_probabilities(pred)
    check_class_weight(class_weight, probs.shape[1])
    if not per_image:
        return _lovasz_softmax_flat(*_valid_pixels(probs, target, ignore_index), classes, class_weight)
    losses = [
        _lovasz_softmax_flat(*_valid_pixels(probs[i : i + 1], target[i : i + 1], ignore_index), classes, class_weight)
        for i in range(probs.shape[0])
    ]
    return reduce_loss(torch.stack(losses), reduction)


def _lovasz_hinge_flat(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Lovasz hinge of ``(P,)`` logits and ``(P,)`` 0/1 labels."""
    if logits.numel() == 0:
        return logits.sum()
    signs = 2 * labels.to(logits.dtype) - 1
    errors_sorted, order = (1 - logits * signs).sort(descending=True)
    return (F.relu(errors_sorted) * lovasz_grad(labels[order].to(logits.dtype))).sum()


def lovasz_hinge(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    per_image: bool = False,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = 'mean',
) -> torch.Tensor:
    """Binary Lovasz hinge loss: the Lovasz extension of the foreground's ``1 - IoU`` on hinge errors.

    Args:
        pred: Foreground logits, shape ``(N, 1, *)``.
        target: 0/1 labels, shape ``(N, *)``.
        per_image: Compute the loss per image and reduce over images, else over the batch.
        ignore_index: Label whose pixels are dropped.
        reduction: With ``per_image``: ``'none'`` (shape ``(N,)``), ``'mean'`` or ``'sum'``.

    Returns:
        The loss, a scalar unless ``per_image`` and ``reduction='none'``.
    """
    check_target(pred, target)
    if pred.shape[1] != 1:
        raise ValueError(f'lovasz_hinge needs one logit channel, got pred of shape {tuple(pred.shape)}')
    if not per_image:
        logits, labels = _valid_pixels(pred, target, ignore_index)
        return _lovasz_hinge_flat(logits[:, 0], labels)
    losses = []
    for i in range(pred.shape[0]):
        logits, labels = _valid_pixels(pred[i : i + 1], target[i : i + 1], ignore_index)
        losses.append(_lovasz_hinge_flat(logits[:, 0], labels))
    return reduce_loss(torch.stack(losses), reduction)
