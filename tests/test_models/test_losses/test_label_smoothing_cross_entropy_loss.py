"""Tests of LabelSmoothingCrossEntropyLoss."""

import math

import pytest
import torch

from segtools.models.losses.cross_entropy_loss import CrossEntropyLoss
from segtools.models.losses.label_smoothing_cross_entropy_loss import LabelSmoothingCrossEntropyLoss

IGNORE = 255


def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    pred = torch.randn(2, 4, 3, 3, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 4, (2, 3, 3), generator=generator)
    target[1, 0] = IGNORE
    return pred, target


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_zero_smoothing_equals_cross_entropy(avg_non_ignore):
    pred, target = make_batch()
    smoothed = LabelSmoothingCrossEntropyLoss(smoothing=0.0, avg_non_ignore=avg_non_ignore)(pred, target)
    torch.testing.assert_close(smoothed, CrossEntropyLoss(avg_non_ignore=avg_non_ignore)(pred, target))


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_matches_loop(avg_non_ignore):
    pred, target = make_batch()
    smoothing = 0.3
    N, C, H, W = pred.shape
    total, count = 0.0, 0
    for n in range(N):
        for h in range(H):
            for w in range(W):
                y = int(target[n, h, w])
                if y == IGNORE:
                    continue
                logits = pred[n, :, h, w].tolist()
                log_z = math.log(sum(math.exp(v) for v in logits))
                neg_log_p = [log_z - v for v in logits]
                total += (1 - smoothing) * neg_log_p[y] + smoothing * sum(neg_log_p) / C
                count += 1
    expected = torch.tensor(total / (count if avg_non_ignore else target.numel()), dtype=torch.float64)
    loss = LabelSmoothingCrossEntropyLoss(smoothing=smoothing, avg_non_ignore=avg_non_ignore, loss_weight=2.0)
    torch.testing.assert_close(loss(pred, target), 2.0 * expected)


def test_reduction_none_is_zero_at_ignored_pixels():
    pred, target = make_batch()
    losses = LabelSmoothingCrossEntropyLoss(reduction='none')(pred, target)
    assert losses.shape == target.shape
    assert (losses[target == IGNORE] == 0).all() and (losses[target != IGNORE] > 0).all()


def test_loss_name():
    assert LabelSmoothingCrossEntropyLoss().loss_name == 'loss_ls'


@pytest.mark.parametrize(
    'kwargs,match',
    [(dict(smoothing=-0.1), 'smoothing'), (dict(smoothing=1.5), 'smoothing'), (dict(reduction='max'), 'reduction')],
)
def test_bad_constructor_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LabelSmoothingCrossEntropyLoss(**kwargs)
