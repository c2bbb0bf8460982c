"""Tests of DiceLoss."""

import pytest
import torch
import torch.nn.functional as F

from segtools.models.losses.dice_loss import DiceLoss

IGNORE = 255


def make_batch(num_classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    pred = torch.randn(2, num_classes, 3, 4, generator=generator, dtype=torch.float64)
    target = torch.randint(0, max(num_classes, 2), (2, 3, 4), generator=generator)
    target[0, 0, :2] = IGNORE
    return pred, target


def dice_loop(probs, target, smooth, exponent, class_weight=None) -> torch.Tensor:
    """Per-image mean over classes of ``w_c (1 - (2 sum p g + s) / (sum p^e + g^e + s))``, valid pixels only."""
    N, C, H, W = probs.shape
    per_image = []
    for n in range(N):
        terms = []
        for c in range(C):
            intersection, denominator = 0.0, 0.0
            for h in range(H):
                for w in range(W):
                    y = int(target[n, h, w])
                    if y == IGNORE:
                        continue
                    p, g = float(probs[n, c, h, w]), float(y == c)
                    intersection += p * g
                    denominator += p**exponent + g**exponent
            dice = 1 - (2 * intersection + smooth) / (denominator + smooth)
            terms.append(dice * (1.0 if class_weight is None else class_weight[c]))
        per_image.append(sum(terms) / C)
    return torch.tensor(per_image, dtype=torch.float64)


@pytest.mark.parametrize('smooth,exponent', [(1.0, 2.0), (0.5, 1.0)])
@pytest.mark.parametrize('class_weight', [None, [0.5, 1.0, 2.0, 1.0]])
def test_matches_loop(smooth, exponent, class_weight):
    pred, target = make_batch()
    expected = dice_loop(pred.softmax(1), target, smooth, exponent, class_weight)
    loss = DiceLoss(smooth=smooth, exponent=exponent, class_weight=class_weight, reduction='none')
    torch.testing.assert_close(loss(pred, target), expected)
    torch.testing.assert_close(
        DiceLoss(smooth=smooth, exponent=exponent, class_weight=class_weight)(pred, target), expected.mean()
    )


def test_single_channel_is_a_binary_sigmoid():
    pred, target = make_batch(num_classes=1)
    foreground = pred.sigmoid()
    expected = dice_loop(torch.cat([1 - foreground, foreground], 1), target, 1.0, 2.0)
    torch.testing.assert_close(DiceLoss(reduction='none')(pred, target), expected)


def test_perfect_prediction_is_near_zero_whatever_the_ignored_pixels_predict():
    _, target = make_batch()
    valid_target = torch.where(target == IGNORE, 0, target)
    pred = 30.0 * F.one_hot(valid_target, 4).movedim(-1, 1).double()
    pred[:, 3][target == IGNORE] = 100.0  # confidently wrong, but ignored
    assert DiceLoss()(pred, target).item() < 1e-9


def test_pixel_weight_is_rejected():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='per-pixel weight'):
        DiceLoss()(pred, target, weight=torch.ones(target.shape))


@pytest.mark.parametrize(
    'kwargs,match',
    [(dict(smooth=-1.0), 'smooth'), (dict(exponent=0), 'exponent'), (dict(reduction='avg'), 'reduction')],
)
def test_bad_constructor_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiceLoss(**kwargs)


def test_class_weight_of_wrong_length():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='class_weight'):
        DiceLoss(class_weight=[1.0, 1.0])(pred, target)


def test_loss_name():
    assert DiceLoss().loss_name == 'loss_dice'
