"""Tests of LovaszLoss against the Lovasz extension evaluated with explicit sets."""

import pytest
import torch
import torch.nn.functional as F

from segtools.models.losses.lovasz_loss import LovaszLoss

IGNORE = 255


def make_batch(num_classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(4)
    pred = torch.randn(2, num_classes, 3, 4, generator=generator, dtype=torch.float64)
    target = torch.randint(0, max(num_classes, 2), (2, 3, 4), generator=generator)
    target[target == 3] = 2  # class 3 absent: 'present' and 'all' differ
    target[1, 0, :3] = IGNORE
    return pred, target


def lovasz_extension(errors: list[float], foreground: list[bool]) -> float:
    """``sum_j e_(j) (J(S_j) - J(S_{j-1}))`` with ``S_j`` the j largest errors, ``J(S) = |S| / |G u S|``."""
    order = sorted(range(len(errors)), key=lambda i: -errors[i])
    gt = {i for i, f in enumerate(foreground) if f}
    total, previous, chosen = 0.0, 0.0, set()
    for i in order:
        chosen.add(i)
        jaccard = len(chosen) / len(gt | chosen)
        total += errors[i] * (jaccard - previous)
        previous = jaccard
    return total


def lovasz_softmax_sets(probs, target, classes, class_weight=None) -> float:
    probs = probs.movedim(1, -1).reshape(-1, probs.shape[1])
    labels = target.flatten()
    keep = labels != IGNORE
    probs, labels = probs[keep], labels[keep].tolist()
    if classes == 'all':
        classes = range(probs.shape[1])
    elif classes == 'present':
        classes = sorted(set(labels))
    assert len(classes) > 0
    losses = []
    for c in classes:
        foreground = [y == c for y in labels]
        errors = [abs(float(f) - p) for f, p in zip(foreground, probs[:, c].tolist(), strict=True)]
        losses.append(lovasz_extension(errors, foreground) * (1.0 if class_weight is None else class_weight[c]))
    return sum(losses) / len(losses)


@pytest.mark.parametrize('classes', ['present', 'all', [0, 2]])
@pytest.mark.parametrize('class_weight', [None, [0.5, 1.0, 2.0, 1.5]])
def test_multi_class_matches_sets(classes, class_weight):
    pred, target = make_batch()
    expected = lovasz_softmax_sets(pred.softmax(1), target, classes, class_weight)
    loss = LovaszLoss(classes=classes, class_weight=class_weight, loss_weight=0.5)(pred, target)
    torch.testing.assert_close(loss, torch.tensor(0.5 * expected, dtype=torch.float64))


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_per_image(reduction):
    pred, target = make_batch()
    per_image = torch.tensor(
        [lovasz_softmax_sets(pred[i : i + 1].softmax(1), target[i : i + 1], 'present') for i in range(2)],
        dtype=torch.float64,
    )
    expected = {'mean': per_image.mean(), 'sum': per_image.sum(), 'none': per_image}[reduction]
    torch.testing.assert_close(LovaszLoss(per_image=True, reduction=reduction)(pred, target), expected)


@pytest.mark.parametrize('per_image', [False, True])
def test_binary_hinge_matches_sets(per_image):
    pred, target = make_batch(num_classes=1)
    images = [(pred[i : i + 1], target[i : i + 1]) for i in range(2)] if per_image else [(pred, target)]
    values = []
    for logits, labels in images:
        keep = labels.flatten() != IGNORE
        logits, labels = logits.flatten()[keep].tolist(), labels.flatten()[keep].tolist()
        errors = [max(0.0, 1 - z * (2 * y - 1)) for z, y in zip(logits, labels, strict=True)]
        values.append(lovasz_extension(errors, [y == 1 for y in labels]))
    expected = torch.tensor(sum(values) / len(values), dtype=torch.float64)
    torch.testing.assert_close(LovaszLoss(loss_type='binary', per_image=per_image)(pred, target), expected)


@pytest.mark.parametrize('num_classes', [1, 4])
def test_perfect_prediction_is_zero_with_finite_gradient(num_classes):
    _, target = make_batch(num_classes)
    valid_target = torch.where(target == IGNORE, 0, target)
    if num_classes == 1:
        pred = (2000.0 * valid_target - 1000.0).unsqueeze(1).double()
    else:
        pred = 1000.0 * F.one_hot(valid_target, num_classes).movedim(-1, 1).double()
    pred.requires_grad_(True)
    loss = LovaszLoss()(pred, target)
    assert loss.item() == 0
    loss.backward()
    assert torch.isfinite(pred.grad).all()


def test_gradient_finite_and_nonzero():
    pred, target = make_batch()
    pred.requires_grad_(True)
    LovaszLoss()(pred, target).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert (pred.grad.abs().sum(1)[target == IGNORE] == 0).all()


def test_all_ignored_gives_zero():
    pred = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss = LovaszLoss()(pred, torch.full((1, 2, 2), IGNORE))
    assert loss.item() == 0
    loss.backward()


@pytest.mark.parametrize(
    'kwargs,match',
    [
        (dict(loss_type='hinge'), 'loss_type'),
        (dict(classes='some'), 'classes'),
        (dict(classes=[]), 'classes'),
        (dict(classes=[0, -1]), 'classes'),
        (dict(loss_type='binary', class_weight=[1.0, 2.0]), 'class_weight'),
        (dict(reduction='avg'), 'reduction'),
        (dict(loss_name='lovasz'), 'loss_name'),
    ],
)
def test_bad_constructor_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LovaszLoss(**kwargs)


def test_classes_beyond_the_prediction():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='beyond'):
        LovaszLoss(classes=[0, 4])(pred, target)


def test_binary_needs_one_channel_and_no_weight():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='one logit channel'):
        LovaszLoss(loss_type='binary')(pred, target)
    with pytest.raises(ValueError, match='per-pixel weight'):
        LovaszLoss()(pred, target, weight=torch.ones(target.shape))
