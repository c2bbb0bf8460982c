"""Tests of SoftTargetCrossEntropyLoss."""

import pytest
import torch
import torch.nn.functional as F

from segtools.models.losses.cross_entropy_loss import CrossEntropyLoss
from segtools.models.losses.soft_target_cross_entropy_loss import SoftTargetCrossEntropyLoss

IGNORE = 255


def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    pred = torch.randn(2, 4, 3, 3, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 4, (2, 3, 3), generator=generator)
    return pred, target


def one_hot(target: torch.Tensor, num_classes: int = 4) -> torch.Tensor:
    return F.one_hot(target, num_classes).movedim(-1, 1).double()


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_one_hot_target_equals_cross_entropy(avg_non_ignore):
    pred, target = make_batch()
    soft = SoftTargetCrossEntropyLoss(avg_non_ignore=avg_non_ignore)(pred, one_hot(target))
    torch.testing.assert_close(soft, CrossEntropyLoss(avg_non_ignore=avg_non_ignore)(pred, target))


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_hard_labels_with_ignore_equal_cross_entropy(avg_non_ignore):
    pred, target = make_batch()
    target[0, 1] = IGNORE
    soft = SoftTargetCrossEntropyLoss(avg_non_ignore=avg_non_ignore)(pred, target)
    torch.testing.assert_close(soft, CrossEntropyLoss(avg_non_ignore=avg_non_ignore)(pred, target))


def test_mixup_target_is_the_mix_of_the_losses():
    pred, target = make_batch()
    other = target.flip(0)
    lam = 0.3
    mixed = SoftTargetCrossEntropyLoss()(pred, lam * one_hot(target) + (1 - lam) * one_hot(other))
    ce = CrossEntropyLoss()
    torch.testing.assert_close(mixed, lam * ce(pred, target) + (1 - lam) * ce(pred, other))


def test_matches_formula_per_pixel():
    pred, _ = make_batch()
    soft = torch.rand(pred.shape, dtype=torch.float64).softmax(1)
    log_p = pred.log_softmax(1)
    expected = torch.zeros(pred.shape[0], *pred.shape[2:], dtype=torch.float64)
    for c in range(pred.shape[1]):
        expected -= soft[:, c] * log_p[:, c]
    torch.testing.assert_close(SoftTargetCrossEntropyLoss(reduction='none')(pred, soft), expected)


def test_classification_like_input():
    pred = torch.randn(5, 3, dtype=torch.float64)
    target = torch.tensor([0, 2, 1, 1, 0])
    soft = F.one_hot(target, 3).double()
    torch.testing.assert_close(SoftTargetCrossEntropyLoss()(pred, soft), F.cross_entropy(pred, target))


def test_soft_target_of_wrong_shape():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='soft target'):
        SoftTargetCrossEntropyLoss()(pred, one_hot(target)[:, :3])


def test_loss_name_and_bad_args():
    assert SoftTargetCrossEntropyLoss().loss_name == 'loss_soft_ce'
    with pytest.raises(ValueError, match='loss_name'):
        SoftTargetCrossEntropyLoss(loss_name='soft')
