"""Pixel accuracy logged as ``acc_seg`` by the decode heads."""

import torch

from segtools.constants import IGNORE_INDEX


@torch.no_grad()
def accuracy(
    pred: torch.Tensor, target: torch.Tensor, topk: int | tuple[int, ...] = 1, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Percentage of valid elements whose label is among the ``topk`` highest scores.

    One channel means binary segmentation: the prediction is class 1 where the logit is
    positive (sigmoid above 0.5), and only ``topk=1`` applies.

    Args:
        pred: Scores or logits, shape ``(N, C, *)``.
        target: Class indices, shape ``(N, *)``.
        topk: ``k`` or a tuple of them.
        ignore_index: Label left out of numerator and denominator.

    Returns:
        Accuracy in percent, a scalar tensor (0 when no element is valid), or a tuple of
        them when ``topk`` is a tuple.
    """
    ks = (topk,) if isinstance(topk, int) else tuple(topk)
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f'topk must be a positive int or a non-empty tuple of them, got {topk!r}')
    if pred.dim() < 2 or target.shape != pred.shape[:1] + pred.shape[2:]:
        raise ValueError(
            f'accuracy: pred must be (N, C, *) and target (N, *), got pred of shape {tuple(pred.shape)} and '
            f'target of shape {tuple(target.shape)}'
        )
    valid = target != ignore_index
    num_valid = valid.sum().clamp(min=1).to(torch.float32)
    if pred.shape[1] == 1:
        if ks != (1,):
            raise ValueError(f'accuracy: a single-channel (binary) prediction only has topk=1, got {topk!r}')
        ranked = (pred > 0).long()
    else:
        if max(ks) > pred.shape[1]:
            raise ValueError(f'accuracy: topk={topk!r} exceeds the {pred.shape[1]} classes')
        ranked = pred.topk(max(ks), dim=1).indices
    hits = (ranked == target.unsqueeze(1)) & valid.unsqueeze(1)
    results = tuple(hits[:, :k].sum().to(torch.float32) * (100.0 / num_valid) for k in ks)
    return results[0] if isinstance(topk, int) else results


@torch.no_grad()
def label_accuracy(pred: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Percentage of valid elements whose predicted label equals the target: :func:`accuracy`
    with ``topk=1`` for predictions given as labels (``(N, *)``, like ``target``)."""
    if pred.shape != target.shape:
        raise ValueError(
            f'label_accuracy: pred and target must have the same shape, got {tuple(pred.shape)} and '
            f'{tuple(target.shape)}'
        )
    valid = target != ignore_index
    hits = ((pred == target) & valid).sum().to(torch.float32)
    return hits * (100.0 / valid.sum().clamp(min=1).to(torch.float32))
