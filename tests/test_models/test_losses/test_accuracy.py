"""Tests of the pixel accuracy (``acc_seg``)."""

import pytest
import torch

from segtools.models.losses.accuracy import accuracy, label_accuracy

IGNORE = 255


def accuracy_loop(pred, target, k) -> float:
    correct, valid = 0, 0
    scores = pred.movedim(1, -1).reshape(-1, pred.shape[1]).tolist()
    for row, y in zip(scores, target.flatten().tolist(), strict=True):
        if y == IGNORE:
            continue
        valid += 1
        ranked = sorted(range(len(row)), key=lambda c: -row[c])
        correct += y in ranked[:k]
    return 100.0 * correct / valid


def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    pred = torch.randn(2, 5, 3, 4, generator=generator)
    target = torch.randint(0, 5, (2, 3, 4), generator=generator)
    target[0, 1] = IGNORE
    return pred, target


@pytest.mark.parametrize('k', [1, 2, 5])
def test_matches_loop(k):
    pred, target = make_batch()
    expected = torch.tensor(accuracy_loop(pred, target, k))
    torch.testing.assert_close(accuracy(pred, target, topk=k), expected)


def test_tuple_topk_returns_a_tuple():
    pred, target = make_batch()
    top1, top3 = accuracy(pred, target, topk=(1, 3))
    torch.testing.assert_close(top1, torch.tensor(accuracy_loop(pred, target, 1)))
    torch.testing.assert_close(top3, torch.tensor(accuracy_loop(pred, target, 3)))


def test_ignore_index_and_all_ignored():
    pred, target = make_batch()
    perfect = torch.where(target == IGNORE, 0, target)
    logits = torch.nn.functional.one_hot(perfect, 5).movedim(-1, 1).float()
    assert accuracy(logits, torch.where(target == IGNORE, IGNORE, (perfect + 1) % 5)).item() == 0
    assert accuracy(logits, target).item() == 100
    assert accuracy(pred, torch.full_like(target, IGNORE)).item() == 0


def test_binary_single_channel_thresholds_the_logit_at_zero():
    logits = torch.tensor([[[[-2.0, 0.5], [3.0, -0.1]]]])
    target = torch.tensor([[[0, 1], [0, IGNORE]]])
    torch.testing.assert_close(accuracy(logits, target), torch.tensor(100.0 * 2 / 3))


def test_classification_like_input():
    pred = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    torch.testing.assert_close(accuracy(pred, torch.tensor([1, 1, 1])), torch.tensor(200.0 / 3))


def test_no_gradient():
    pred, target = make_batch()
    assert not accuracy(pred.requires_grad_(True), target).requires_grad


@pytest.mark.parametrize('topk,match', [(0, 'topk'), ((), 'topk'), (6, 'exceeds')])
def test_bad_topk(topk, match):
    pred, target = make_batch()
    with pytest.raises(ValueError, match=match):
        accuracy(pred, target, topk=topk)


def test_shape_mismatch():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='accuracy'):
        accuracy(pred, target[:, :2])
    with pytest.raises(ValueError, match='topk=1'):
        accuracy(pred[:, :1], target, topk=2)


def test_label_accuracy_equals_top1_accuracy_of_the_scores():
    generator = torch.Generator().manual_seed(5)
    scores = torch.randn(2, 6, 7, 9, generator=generator)
    target = torch.randint(0, 6, (2, 7, 9), generator=generator)
    target[0, :3] = 255
    torch.testing.assert_close(label_accuracy(scores.argmax(1), target), accuracy(scores, target))
    assert label_accuracy(target, torch.full_like(target, 255)) == 0
    with pytest.raises(ValueError, match='same shape'):
        label_accuracy(target[0], target)
