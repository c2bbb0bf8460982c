"""Tests of EncNet's SE loss and its class-presence target."""

import math

import pytest
import torch

from segtools.models.losses.se_loss import SELoss, class_presence, se_loss

IGNORE = 255


def presence_loop(seg_label: torch.Tensor, num_classes: int, ignore_index: int) -> torch.Tensor:
    expected = torch.zeros(seg_label.shape[0], num_classes)
    for n, image in enumerate(seg_label):
        for label in set(image.flatten().tolist()):
            if 0 <= label < num_classes and label != ignore_index:
                expected[n, label] = 1
    return expected


def make_labels() -> torch.Tensor:
    """Three images: some classes absent, ignore pixels, a label beyond num_classes (4), one image all ignored."""
    labels = torch.tensor(
        [
            [[0, 0, 2], [2, IGNORE, 2]],
            [[3, 3, 7], [IGNORE, 1, 1]],
            [[IGNORE] * 3, [IGNORE] * 3],
        ]
    )
    return labels


@pytest.mark.parametrize('ignore_index', [IGNORE, 2])
def test_class_presence_matches_loop(ignore_index):
    labels = make_labels()
    presence = class_presence(labels, 4, ignore_index)
    assert presence.dtype == torch.float32 and presence.shape == (3, 4)
    torch.testing.assert_close(presence, presence_loop(labels, 4, ignore_index))


def test_class_presence_spelled_out():
    expected = torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 1], [0, 0, 0, 0]])
    torch.testing.assert_close(class_presence(make_labels(), 4, IGNORE), expected)


def test_class_presence_accepts_extra_dims_and_int_dtypes():
    labels = make_labels()
    torch.testing.assert_close(
        class_presence(labels.unsqueeze(1).to(torch.uint8), 4, IGNORE), class_presence(labels, 4, IGNORE)
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_class_presence_stays_on_the_label_device():
    labels = make_labels().cuda()
    presence = class_presence(labels, 4, IGNORE)
    assert presence.device == labels.device
    torch.testing.assert_close(presence.cpu(), presence_loop(labels.cpu(), 4, IGNORE))


def test_se_loss_matches_bce_formula():
    labels = make_labels()
    logits = torch.randn(3, 4, dtype=torch.float64)
    target = presence_loop(labels, 4, IGNORE)
    terms = []
    for z, t in zip(logits.flatten().tolist(), target.flatten().tolist(), strict=True):
        p = 1 / (1 + math.exp(-z))
        terms.append(-(t * math.log(p) + (1 - t) * math.log(1 - p)))
    expected = torch.tensor(sum(terms) / len(terms), dtype=torch.float64)
    torch.testing.assert_close(se_loss(logits, labels), expected)
    module = SELoss()
    assert module.loss_name == 'loss_se'
    torch.testing.assert_close(module(logits, labels), 0.2 * expected)
    torch.testing.assert_close(SELoss(loss_weight=1.0)(logits, labels, ignore_index=IGNORE), expected)


def test_se_loss_backward():
    logits = torch.randn(3, 4, requires_grad=True)
    SELoss()(logits, make_labels()).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


@pytest.mark.parametrize('logits_shape,labels_shape', [((3, 4, 1), (3, 2, 3)), ((2, 4), (3, 2, 3))])
def test_se_loss_rejects_wrong_shapes(logits_shape, labels_shape):
    with pytest.raises(ValueError, match='se_logits must have shape'):
        SELoss()(torch.zeros(logits_shape), torch.zeros(labels_shape, dtype=torch.long))


def test_bad_loss_name():
    with pytest.raises(ValueError, match='loss_name'):
        SELoss(loss_name='se')
