"""Tests of OhemCrossEntropyLoss on a batch whose kept pixels are known by construction."""

import math

import pytest
import torch

from segtools.models.losses.ohem_cross_entropy_loss import OhemCrossEntropyLoss

IGNORE = 255
# Probability of the true class of each of 9 pixels; the 10th, the easiest-looking of all, is ignored.
PROBS = [0.1, 0.3, 0.5, 0.65, 0.8, 0.9, 0.95, 0.97, 0.99]
IGNORED_PROB = 0.05


def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two-class logits (1, 2, 2, 5) with ``softmax(pred)[target] == PROBS`` (and the ignored pixel)."""
    probs = torch.tensor(PROBS + [IGNORED_PROB], dtype=torch.float64)
    target = torch.tensor([0, 1] * 5)
    true_logit, other_logit = probs.log(), (1 - probs).log()
    pred = torch.stack(
        [torch.where(target == 0, true_logit, other_logit), torch.where(target == 0, other_logit, true_logit)]
    )
    target[-1] = IGNORE
    return pred.reshape(1, 2, 2, 5), target.reshape(1, 2, 5)


def mean_nll(indices, class_weight=None) -> torch.Tensor:
    targets = [i % 2 for i in range(len(PROBS))]
    weights = [1.0 if class_weight is None else class_weight[targets[i]] for i in indices]
    total = sum(w * -math.log(PROBS[i]) for w, i in zip(weights, indices, strict=True))
    return torch.tensor(total / sum(weights), dtype=torch.float64)


def kept_by_gradient(loss_module) -> list[int]:
    pred, target = make_batch()
    pred.requires_grad_(True)
    loss_module(pred, target).backward()
    return [i for i, g in enumerate(pred.grad.abs().sum(1).flatten().tolist()) if g > 0]


@pytest.mark.parametrize(
    'thresh,min_kept,kept',
    [
        (0.7, 2, [0, 1, 2, 3]),  # four pixels below thresh, more than min_kept: exactly those
        (0.7, 4, [0, 1, 2, 3]),
        (0.7, 6, [0, 1, 2, 3, 4, 5]),  # too few hard pixels: the six lowest probabilities
        (0.7, 100, list(range(9))),  # fewer valid pixels than min_kept: all valid, never the ignored one
        (0.96, 0, [0, 1, 2, 3, 4, 5, 6]),
    ],
)
def test_keeps_exactly_the_hard_pixels(thresh, min_kept, kept):
    pred, target = make_batch()
    loss = OhemCrossEntropyLoss(thresh=thresh, min_kept=min_kept)
    torch.testing.assert_close(loss(pred, target), mean_nll(kept))
    assert kept_by_gradient(loss) == kept


def test_class_weight_gives_the_weighted_mean():
    pred, target = make_batch()
    class_weight = [0.5, 2.0]
    loss = OhemCrossEntropyLoss(thresh=0.7, min_kept=6, class_weight=class_weight, loss_weight=0.5)
    torch.testing.assert_close(loss(pred, target), 0.5 * mean_nll([0, 1, 2, 3, 4, 5], class_weight))


def test_nothing_kept_gives_zero():
    pred, target = make_batch()
    pred.requires_grad_(True)
    loss = OhemCrossEntropyLoss(thresh=0.01, min_kept=0)(pred, target)
    assert loss.item() == 0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_loss_name():
    assert OhemCrossEntropyLoss().loss_name == 'loss_ohem'


@pytest.mark.parametrize(
    'kwargs,match',
    [
        (dict(thresh=0.0), 'thresh'),
        (dict(thresh=1.5), 'thresh'),
        (dict(min_kept=-1), 'min_kept'),
        (dict(min_kept=2.5), 'min_kept'),
        (dict(class_weight='x'), 'class_weight'),
        (dict(loss_name='ohem'), 'loss_name'),
    ],
)
def test_bad_constructor_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OhemCrossEntropyLoss(**kwargs)


def test_class_weight_of_wrong_length():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='class_weight'):
        OhemCrossEntropyLoss(class_weight=[1.0, 1.0, 1.0])(pred, target)
