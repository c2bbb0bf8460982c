"""Pure evaluation functions: confusion matrices, segmentation metrics from them, top-k accuracy.

The confusion matrix is the single statistic behind every segmentation number: rows are
ground-truth classes, columns predicted classes, so ``cm[g, p]`` counts pixels labelled ``g``
and predicted ``p``. Sums of int64 matrices are exact, which makes results independent of how
the samples were split across processes. The per-class functions return NaN where a ratio is
0/0 (a class that never occurs), and the means skip NaN.
"""

import torch

from segtools.constants import IGNORE_INDEX

__all__ = [
    'confusion_matrix',
    'pixel_accuracy',
    'per_class_iou',
    'per_class_accuracy',
    'per_class_dice',
    'per_class_precision_recall_fscore',
    'frequency_weighted_iou',
    'nanmean',
    'topk_correct',
]


def _describe_values(values: torch.Tensor, limit: int = 10) -> str:
    """Render the distinct values of a tensor, capped at ``limit`` so messages stay short."""
    uniq = torch.unique(values).tolist()
    shown = ', '.join(str(v) for v in uniq[:limit])
    return f'[{shown}{", ..." if len(uniq) > limit else ""}] ({len(uniq)} distinct)'


def confusion_matrix(
    pred: torch.Tensor, label: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Count (ground truth, prediction) pairs with one ``torch.bincount`` on the inputs' device.

    Pixels whose label equals ``ignore_index`` are left out whatever their prediction.

    Args:
        pred: Predicted class indices, any shape, integer dtype.
        label: Ground-truth class indices, the same shape as ``pred``; moved to ``pred``'s device.
        num_classes: Number of classes ``C``.
        ignore_index: Label value excluded from the counts.

    Returns:
        Confusion matrix of shape ``(C, C)``, int64, on ``pred``'s device; ``cm[g, p]`` counts
        pixels of ground truth ``g`` predicted as ``p``.

    Raises:
        ValueError: If the shapes differ, or a kept label or a prediction lies outside
            ``[0, num_classes)``; the message lists the offending values.
    """
    if num_classes < 1:
        raise ValueError(f'num_classes must be positive, got {num_classes}')
    if pred.shape != label.shape:
        raise ValueError(f'prediction and label shapes differ: pred {tuple(pred.shape)} vs label {tuple(label.shape)}')
    # int64 before the arithmetic: a uint8 label times num_classes would wrap around.
    pred = pred.reshape(-1).long()
    label = label.reshape(-1).to(device=pred.device, dtype=torch.long)
    keep = label != ignore_index
    pred, label = pred[keep], label[keep]
    bad_label = (label < 0) | (label >= num_classes)
    if bool(bad_label.any()):
        raise ValueError(
            f'label values {_describe_values(label[bad_label])} are outside [0, {num_classes}) and are not '
            f'ignore_index={ignore_index}; check reduce_zero_label, the label_map or num_classes'
        )
    bad_pred = (pred < 0) | (pred >= num_classes)
    if bool(bad_pred.any()):
        raise ValueError(
            f'predicted values {_describe_values(pred[bad_pred])} are outside [0, {num_classes}); '
            f'does the model head have num_classes={num_classes}?'
        )
    counts = torch.bincount(label * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` in float64, NaN where ``den == 0`` (never a division warning)."""
    num, den = num.double(), den.double()
    out = torch.full_like(num, float('nan'))
    nonzero = den > 0
    out[nonzero] = num[nonzero] / den[nonzero]
    return out


def _areas(cm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class intersection ``(C,)``, ground-truth area ``(C,)`` and predicted area ``(C,)``."""
    if cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f'a confusion matrix must be square (C, C), got shape {tuple(cm.shape)}')
    return cm.diagonal(), cm.sum(dim=1), cm.sum(dim=0)


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Overall pixel accuracy ``aAcc = trace(cm) / sum(cm)`` (PyTorch-Encoding's pixAcc).

    Args:
        cm: Confusion matrix ``(C, C)``.

    Returns:
        A fraction in ``[0, 1]``; NaN when no pixel was counted.
    """
    intersect, label_area, _ = _areas(cm)
    return _ratio(intersect.sum(), label_area.sum()).item()


def per_class_iou(cm: torch.Tensor) -> torch.Tensor:
    """Intersection over union per class: ``cm[c, c] / (row_c + col_c - cm[c, c])``.

    Args:
        cm: Confusion matrix ``(C, C)``.

    Returns:
        ``(C,)`` float64; NaN for a class absent from both ground truth and prediction, 0 for
        a class only predicted (its false positives count against it).
    """
    intersect, label_area, pred_area = _areas(cm)
    return _ratio(intersect, label_area + pred_area - intersect)


def per_class_accuracy(cm: torch.Tensor) -> torch.Tensor:
    """Recall of each class: ``cm[c, c] / row_c``; NaN where the class has no ground-truth pixel.

    Args:
        cm: Confusion matrix ``(C, C)``.

    Returns:
        ``(C,)`` float64.
    """
    intersect, label_area, _ = _areas(cm)
    return _ratio(intersect, label_area)


def per_class_dice(cm: torch.Tensor) -> torch.Tensor:
    """Dice per class: ``2 cm[c, c] / (row_c + col_c)``; NaN where the class never occurs.

    Args:
        cm: Confusion matrix ``(C, C)``.

    Returns:
        ``(C,)`` float64.
    """
    intersect, label_area, pred_area = _areas(cm)
    return _ratio(2 * intersect, label_area + pred_area)


def per_class_precision_recall_fscore(
    cm: torch.Tensor, beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision, recall and F-beta per class.

    ``F = (1 + beta^2) TP / ((1 + beta^2) TP + beta^2 FN + FP) = (1 + beta^2) cm[c, c] /
    (beta^2 row_c + col_c)``, the same as ``(1 + beta^2) P R / (beta^2 P + R)`` where that is
    defined; the count form stays finite (0) for a class that occurs but is never hit, where
    P or R alone is 0/0.

    Args:
        cm: Confusion matrix ``(C, C)``.
        beta: Weight of recall relative to precision.

    Returns:
        Three ``(C,)`` float64 tensors: precision (NaN where never predicted), recall (NaN
        where absent from the ground truth), F-score (NaN where the class never occurs).
    """
    intersect, label_area, pred_area = _areas(cm)
    b2 = beta * beta
    precision = _ratio(intersect, pred_area)
    recall = _ratio(intersect, label_area)
    fscore = _ratio((1 + b2) * intersect.double(), b2 * label_area.double() + pred_area.double())
    return precision, recall, fscore


def frequency_weighted_iou(cm: torch.Tensor) -> float:
    """IoU averaged with each class weighted by its share of ground-truth pixels.

    ``fwIoU = sum_c (row_c / sum(cm)) * IoU_c``; classes with no ground truth weigh 0.

    Args:
        cm: Confusion matrix ``(C, C)``.

    Returns:
        A fraction in ``[0, 1]``; NaN when no pixel was counted.
    """
    _, label_area, _ = _areas(cm)
    total = label_area.sum()
    if total == 0:
        return float('nan')
    iou = per_class_iou(cm)
    present = label_area > 0  # every class with ground truth has a finite IoU
    return (label_area[present].double() / total.double() * iou[present]).sum().item()


def nanmean(values: torch.Tensor) -> float:
    """Mean of the non-NaN entries; NaN (without a warning) when every entry is NaN."""
    valid = ~torch.isnan(values)
    if not bool(valid.any()):
        return float('nan')
    return values[valid].mean().item()


def topk_correct(scores: torch.Tensor, target: torch.Tensor, topk: tuple[int, ...] = (1, 5)) -> torch.Tensor:
    """Whether each target is among the ``k`` highest scores, for every ``k`` in ``topk``.

    Args:
        scores: Logits or probabilities, shape ``(N, C)``.
        target: Class indices, shape ``(N,)``.
        topk: The ``k`` values, each in ``[1, C]``.

    Returns:
        ``(N, len(topk))`` bool.

    Raises:
        ValueError: On bad shapes, a ``k`` outside ``[1, C]`` or a target outside ``[0, C)``.
    """
    if scores.dim() != 2 or target.shape != scores.shape[:1]:
        raise ValueError(f'scores must be (N, C) and target (N,), got {tuple(scores.shape)} and {tuple(target.shape)}')
    num_classes = scores.shape[1]
    if not topk or any(k < 1 or k > num_classes for k in topk):
        raise ValueError(f'every k in topk={tuple(topk)} must lie in [1, {num_classes}] (the number of classes)')
    target = target.to(device=scores.device, dtype=torch.long)
    bad = (target < 0) | (target >= num_classes)
    if bool(bad.any()):
        raise ValueError(f'target values {_describe_values(target[bad])} are outside [0, {num_classes})')
    ranked = scores.topk(max(topk), dim=1).indices  # (N, max_k), best first
    hits = ranked == target.unsqueeze(1)
    return torch.stack([hits[:, :k].any(dim=1) for k in topk], dim=1)


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with ``|`` separators (no prettytable dependency)."""
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]

    def line(cells: list[str]) -> str:
        # Class names left-aligned, numbers right-aligned so decimals line up.
        padded = [c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return '| ' + ' | '.join(padded) + ' |'

    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
    return '\n'.join([rule, line(header), rule, *(line(r) for r in rows), rule])
