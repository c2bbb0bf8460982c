"""Tests of CrossEntropyLoss (softmax and sigmoid) and its class_weight parsing."""

import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from segtools.models.losses.cross_entropy_loss import CrossEntropyLoss

IGNORE = 255
CLASS_WEIGHT = [0.5, 1.0, 2.0, 1.5]


def make_batch(num_classes: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (2, C, 3, 5) in float64 and labels with a few ignored pixels."""
    generator = torch.Generator().manual_seed(seed)
    pred = torch.randn(2, num_classes, 3, 5, generator=generator, dtype=torch.float64)
    target = torch.randint(0, num_classes, (2, 3, 5), generator=generator)
    target[0, 0, :3] = IGNORE
    target[1, 2, 4] = IGNORE
    return pred, target


def softmax_ce_loop(pred, target, class_weight=None):
    """Per-pixel ``-w_y log softmax_y`` (0 where ignored) and the sum of the valid pixels' weights."""
    N, _, H, W = pred.shape
    losses = torch.zeros(N, H, W, dtype=torch.float64)
    weight_sum = 0.0
    for n in range(N):
        for h in range(H):
            for w in range(W):
                y = int(target[n, h, w])
                if y == IGNORE:
                    continue
                logits = pred[n, :, h, w].tolist()
                log_sum_exp = math.log(sum(math.exp(v) for v in logits))
                cw = 1.0 if class_weight is None else class_weight[y]
                losses[n, h, w] = cw * (log_sum_exp - logits[y])
                weight_sum += cw
    return losses, weight_sum


def bce(logit: float, label: float) -> float:
    p = 1 / (1 + math.exp(-logit))
    return -(label * math.log(p) + (1 - label) * math.log(1 - p))


@pytest.mark.parametrize('class_weight', [None, CLASS_WEIGHT])
@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_softmax_mean_matches_loop(class_weight, avg_non_ignore):
    pred, target = make_batch()
    losses, weight_sum = softmax_ce_loop(pred, target, class_weight)
    # mmseg's default divides by every pixel, ignored ones included.
    expected = losses.sum() / (weight_sum if avg_non_ignore else target.numel())
    loss = CrossEntropyLoss(class_weight=class_weight, avg_non_ignore=avg_non_ignore)(pred, target)
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize('class_weight', [None, CLASS_WEIGHT])
def test_avg_non_ignore_equals_torch(class_weight):
    pred, target = make_batch()
    weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float64)
    expected = F.cross_entropy(pred, target, weight=weight, ignore_index=IGNORE)
    loss = CrossEntropyLoss(class_weight=class_weight, avg_non_ignore=True)(pred, target)
    torch.testing.assert_close(loss, expected)


def test_reductions_and_loss_weight():
    pred, target = make_batch()
    losses, _ = softmax_ce_loop(pred, target)
    torch.testing.assert_close(CrossEntropyLoss(reduction='none')(pred, target), losses)
    torch.testing.assert_close(CrossEntropyLoss(reduction='sum', loss_weight=0.4)(pred, target), 0.4 * losses.sum())


def test_pixel_weight_multiplies_the_elementwise_loss():
    pred, target = make_batch()
    weight = torch.rand(target.shape, dtype=torch.float64)
    losses, _ = softmax_ce_loop(pred, target)
    loss = CrossEntropyLoss(reduction='sum')(pred, target, weight=weight)
    torch.testing.assert_close(loss, (losses * weight).sum())
    with pytest.raises(ValueError, match='weight must have shape'):
        CrossEntropyLoss()(pred, target, weight=weight[0])


def test_custom_ignore_index():
    pred, target = make_batch()
    target[target == IGNORE] = 0
    relabelled = target.clone()
    relabelled[target == 3] = IGNORE
    expected = CrossEntropyLoss()(pred, relabelled)
    torch.testing.assert_close(CrossEntropyLoss()(pred, target, ignore_index=3), expected)


@pytest.mark.parametrize('use_sigmoid', [False, True])
@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_all_ignored_gives_zero_with_gradient(use_sigmoid, avg_non_ignore):
    pred = torch.randn(1, 3, 2, 2, requires_grad=True)
    target = torch.full((1, 2, 2), IGNORE)
    loss = CrossEntropyLoss(use_sigmoid=use_sigmoid, avg_non_ignore=avg_non_ignore)(pred, target)
    assert loss.item() == 0
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


@pytest.mark.parametrize('class_weight', [None, [0.3, 2.0]])
@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_sigmoid_binary_matches_loop(class_weight, avg_non_ignore):
    pred, target = make_batch(num_classes=2)
    pred = pred[:, :1]
    total, weight_sum = 0.0, 0.0
    for logit, label in zip(pred.flatten().tolist(), target.flatten().tolist(), strict=True):
        if label == IGNORE:
            continue
        cw = 1.0 if class_weight is None else class_weight[label]
        total += cw * bce(logit, label)
        weight_sum += cw
    expected = total / (weight_sum if avg_non_ignore else target.numel())
    loss = CrossEntropyLoss(use_sigmoid=True, class_weight=class_weight, avg_non_ignore=avg_non_ignore)(pred, target)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_sigmoid_one_hot_matches_loop(avg_non_ignore):
    pred, target = make_batch()
    N, C, H, W = pred.shape
    total, count = 0.0, 0
    for n in range(N):
        for h in range(H):
            for w in range(W):
                y = int(target[n, h, w])
                if y == IGNORE:
                    continue
                for c in range(C):
                    total += CLASS_WEIGHT[c] * bce(float(pred[n, c, h, w]), float(c == y))
                    count += CLASS_WEIGHT[c]
    expected = total / (count if avg_non_ignore else pred.numel())
    loss = CrossEntropyLoss(use_sigmoid=True, class_weight=CLASS_WEIGHT, avg_non_ignore=avg_non_ignore)(pred, target)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))


def test_sigmoid_reduction_none_shapes():
    pred, target = make_batch()
    assert CrossEntropyLoss(use_sigmoid=True, reduction='none')(pred, target).shape == pred.shape
    assert CrossEntropyLoss(use_sigmoid=True, reduction='none')(pred[:, :1], target.clamp(max=1)).shape == target.shape


def test_classification_like_input():
    pred = torch.randn(6, 5, dtype=torch.float64)
    target = torch.tensor([0, 4, 2, 2, 1, 3])
    torch.testing.assert_close(CrossEntropyLoss()(pred, target), F.cross_entropy(pred, target))


@pytest.mark.parametrize('suffix', ['.npy', '.pkl'])
def test_class_weight_from_file(tmp_path, suffix):
    path = tmp_path / f'weights{suffix}'
    if suffix == '.npy':
        np.save(path, np.array(CLASS_WEIGHT))
    else:
        path.write_bytes(pickle.dumps(CLASS_WEIGHT))
    pred, target = make_batch()
    from_file = CrossEntropyLoss(class_weight=str(path))(pred, target)
    torch.testing.assert_close(from_file, CrossEntropyLoss(class_weight=CLASS_WEIGHT)(pred, target))


def test_class_weight_is_a_buffer_outside_the_state_dict():
    loss = CrossEntropyLoss(class_weight=CLASS_WEIGHT)
    assert 'class_weight' in dict(loss.named_buffers())
    assert 'class_weight' not in loss.state_dict()
    assert loss.double().class_weight.dtype == torch.float64


def test_loss_name():
    assert CrossEntropyLoss().loss_name == 'loss_ce'
    assert CrossEntropyLoss(loss_name='loss_aux').loss_name == 'loss_aux'


@pytest.mark.parametrize(
    'kwargs,match',
    [
        (dict(class_weight=['a', 'b']), 'class_weight'),
        (dict(class_weight=[[1.0, 2.0]]), 'class_weight'),
        (dict(class_weight=[1.0, -1.0]), 'class_weight'),
        (dict(class_weight=[]), 'class_weight'),
        (dict(class_weight='weights.txt'), 'class_weight'),
        (dict(class_weight='/does/not/exist.npy'), 'class_weight'),
        (dict(reduction='avg'), 'reduction'),
        (dict(loss_name='ce'), 'loss_name'),
    ],
)
def test_bad_constructor_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CrossEntropyLoss(**kwargs)


def test_misspelt_key_raises_type_error():
    with pytest.raises(TypeError, match='avg_non_ignored'):
        CrossEntropyLoss(avg_non_ignored=True)


@pytest.mark.parametrize('use_sigmoid', [False, True])
def test_class_weight_of_wrong_length(use_sigmoid):
    pred, target = make_batch()
    with pytest.raises(ValueError, match='class_weight'):
        CrossEntropyLoss(use_sigmoid=use_sigmoid, class_weight=[1.0, 2.0, 3.0])(pred, target)


def test_target_of_wrong_shape():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='target must have shape'):
        CrossEntropyLoss()(pred, target[:, :2])


def test_mmseg_signature_order():
    # MMSegmentation's positional order: use_sigmoid, use_mask, reduction, class_weight, loss_weight, ...
    loss = CrossEntropyLoss(False, False, 'sum', CLASS_WEIGHT, 0.5, 'loss_x', True)
    assert (loss.reduction, loss.loss_weight, loss.loss_name, loss.avg_non_ignore) == ('sum', 0.5, 'loss_x', True)
    assert loss.class_weight.tolist() == CLASS_WEIGHT


def test_use_mask_is_refused_by_name():
    assert not CrossEntropyLoss(use_mask=False).use_sigmoid
    with pytest.raises(ValueError, match='use_mask=True'):
        CrossEntropyLoss(use_mask=True)


@pytest.mark.parametrize('use_sigmoid', [False, True])
def test_reduction_override_and_avg_factor(use_sigmoid):
    pred, target = make_batch()
    loss = CrossEntropyLoss(use_sigmoid=use_sigmoid, loss_weight=0.5)
    per_pixel = loss(pred, target, reduction_override='none')
    torch.testing.assert_close(loss(pred, target, reduction_override='sum'), per_pixel.sum())
    torch.testing.assert_close(loss(pred, target, avg_factor=7.0), per_pixel.sum() / 7.0)
    torch.testing.assert_close(loss(pred, target), per_pixel.sum() / per_pixel.numel())
    with pytest.raises(ValueError, match='reduction'):
        loss(pred, target, reduction_override='avg')
    with pytest.raises(ValueError, match='avg_factor'):
        loss(pred, target, avg_factor=7.0, reduction_override='sum')


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_sigmoid_per_channel_targets(reduction):
    # MMSegmentation's SE-loss form: (N, C) logits against a (N, C) 0/1 target, plain BCE.
    generator = torch.Generator().manual_seed(4)
    pred = torch.randn(3, 5, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 2, (3, 5), generator=generator)
    expected = F.binary_cross_entropy_with_logits(pred, target.double(), reduction=reduction)
    loss = CrossEntropyLoss(use_sigmoid=True, reduction=reduction)(pred, target)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(CrossEntropyLoss(use_sigmoid=True, reduction=reduction)(pred, target.double()), expected)


def test_sigmoid_per_channel_targets_skip_ignored_elements():
    pred = torch.randn(2, 3, dtype=torch.float64)
    target = torch.tensor([[1, 0, IGNORE], [0, -1, 1]])
    valid = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]], dtype=torch.float64)
    elementwise = F.binary_cross_entropy_with_logits(pred, target.clamp(0, 1).double(), reduction='none') * valid
    torch.testing.assert_close(CrossEntropyLoss(use_sigmoid=True)(pred, target), elementwise.sum() / 6)
    loss = CrossEntropyLoss(use_sigmoid=True, avg_non_ignore=True)(pred, target)
    torch.testing.assert_close(loss, elementwise.sum() / 4)


def test_one_entry_sigmoid_class_weight_names_mmsegs_pos_weight():
    pred, target = make_batch(num_classes=2)
    with pytest.raises(ValueError, match='pos_weight'):
        CrossEntropyLoss(use_sigmoid=True, class_weight=[2.0])(pred[:, :1], target)


@pytest.mark.parametrize(
    'options',
    [
        dict(),
        dict(class_weight=CLASS_WEIGHT, avg_non_ignore=True, loss_weight=0.7),
        dict(reduction='sum'),
    ],
)
@pytest.mark.parametrize('align_corners', [False, True])
def test_forward_upsampled_equals_forward_on_resized_logits(options, align_corners):
    pred, target = make_batch()
    labels = torch.randint(0, 4, (2, 12, 20), generator=torch.Generator().manual_seed(3))
    labels[0, :2] = IGNORE
    loss_fn = CrossEntropyLoss(**options)
    weight = torch.rand(labels.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    low = pred.clone().requires_grad_()
    loss, argmax = loss_fn.forward_upsampled(low, labels, align_corners=align_corners, weight=weight)
    loss.backward()
    resized_in = pred.clone().requires_grad_()
    resized = F.interpolate(resized_in, (12, 20), mode='bilinear', align_corners=align_corners)
    expected = loss_fn(resized, labels, weight=weight)
    expected.backward()
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(low.grad, resized_in.grad, rtol=1e-12, atol=1e-12)
    assert torch.equal(argmax, resized.argmax(1))


def test_forward_upsampled_refuses_the_sigmoid_form():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='only the softmax form'):
        CrossEntropyLoss(use_sigmoid=True).forward_upsampled(pred, target, align_corners=False)
