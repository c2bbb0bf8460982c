"""BaseClsHead, through LinearClsHead: hard and soft targets with each loss, accuracy, prediction."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

from segtools.models.classifiers import LinearClsHead
from segtools.structures import ClsDataSample

NUM_CLASSES = 5


def head(**kwargs) -> LinearClsHead:
    with DefaultScope.overwrite_default_scope('segtools'):
        return LinearClsHead(num_classes=kwargs.pop('num_classes', NUM_CLASSES), in_channels=4, **kwargs)


def samples(labels, scores=None) -> list[ClsDataSample]:
    out = []
    for i, label in enumerate(labels):
        sample = ClsDataSample()
        sample.gt_label = label
        if scores is not None:
            sample.gt_score = scores[i]
        out.append(sample)
    return out


def logits_and_labels(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, NUM_CLASSES, generator=gen, dtype=torch.float64), torch.arange(n) % NUM_CLASSES


def soft_targets(labels: torch.Tensor, lam: float = 0.7) -> torch.Tensor:
    one_hot = F.one_hot(labels, NUM_CLASSES).double()
    return lam * one_hot + (1 - lam) * one_hot.roll(1, dims=0)


def test_cross_entropy_on_labels_with_accuracy():
    logits, labels = logits_and_labels()
    losses = head(topk=(1, 3)).loss_by_score(logits, samples(labels))
    assert set(losses) == {'loss_ce', 'acc_top1', 'acc_top3'}
    torch.testing.assert_close(losses['loss_ce'], F.cross_entropy(logits, labels))
    top3 = logits.topk(3, dim=1).indices
    expected = (top3 == labels[:, None]).any(dim=1).double().mean() * 100
    torch.testing.assert_close(losses['acc_top3'], expected.float())


def test_label_smoothing_through_the_head_matches_its_formula():
    # (1 - s) * -log p[y] + s * mean_c(-log p[c]), averaged over the batch.
    smoothing = 0.1
    logits, labels = logits_and_labels()
    log_p = F.log_softmax(logits, dim=1)
    expected = ((1 - smoothing) * -log_p.gather(1, labels[:, None])[:, 0] + smoothing * -log_p.mean(dim=1)).mean()
    loss = dict(type='LabelSmoothingCrossEntropyLoss', smoothing=smoothing, loss_weight=2.0)
    losses = head(loss=loss).loss_by_score(logits, samples(labels))
    torch.testing.assert_close(losses['loss_ls'], 2.0 * expected)


def test_label_smoothing_on_soft_targets_is_nll_multilabel_smooth():
    # PyTorch-Encoding's NLLMultiLabelSmooth(s): (1 - s) * sum_c -t_c log p_c + s * mean_c(-log p_c).
    smoothing = 0.2
    logits, labels = logits_and_labels()
    targets = soft_targets(labels)
    log_p = F.log_softmax(logits, dim=1)
    expected = ((1 - smoothing) * -(targets * log_p).sum(dim=1) + smoothing * -log_p.mean(dim=1)).mean()
    loss = dict(type='LabelSmoothingCrossEntropyLoss', smoothing=smoothing)
    losses = head(loss=loss).loss_by_score(logits, samples(labels, targets))
    assert set(losses) == {'loss_ls'}  # no accuracy against a mixed target
    torch.testing.assert_close(losses['loss_ls'], expected)


@pytest.mark.parametrize(
    'loss, key', [(dict(type='CrossEntropyLoss'), 'loss_ce'), (dict(type='SoftTargetCrossEntropyLoss'), 'loss_soft_ce')]
)
def test_soft_targets_take_the_soft_cross_entropy(loss, key):
    logits, labels = logits_and_labels()
    targets = soft_targets(labels)
    expected = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    losses = head(loss=dict(loss, loss_weight=0.5)).loss_by_score(logits, samples(labels, targets))
    torch.testing.assert_close(losses[key], 0.5 * expected)
    # The same loss on hard labels is the usual cross-entropy.
    hard = head(loss=loss).loss_by_score(logits, samples(labels))
    torch.testing.assert_close(hard[key], F.cross_entropy(logits, labels))


def test_sigmoid_cross_entropy_takes_soft_targets_per_class():
    logits, labels = logits_and_labels()
    targets = soft_targets(labels)
    losses = head(loss=dict(type='CrossEntropyLoss', use_sigmoid=True)).loss_by_score(logits, samples(labels, targets))
    torch.testing.assert_close(losses['loss_ce'], F.binary_cross_entropy_with_logits(logits, targets))


def test_losses_that_cannot_take_soft_targets_say_so():
    logits, labels = logits_and_labels()
    weighted = head(loss=dict(type='CrossEntropyLoss', class_weight=[1.0] * NUM_CLASSES))
    with pytest.raises(ValueError, match='cannot take the soft targets'):
        weighted.loss_by_score(logits, samples(labels, soft_targets(labels)))
    mixed = samples(labels)
    mixed[0].gt_score = soft_targets(labels)[0]
    with pytest.raises(ValueError, match='only some samples'):
        head().loss_by_score(logits, mixed)


def test_class_255_is_not_ignored():
    # The losses' default ignore_index is the segmentation ignore label, 255: an ImageNet class.
    logits = torch.zeros(2, 300)
    losses = head(num_classes=300).loss_by_score(logits, samples([255, 255]))
    torch.testing.assert_close(losses['loss_ce'], torch.log(torch.tensor(300.0)))
    soft = head(num_classes=300, loss=dict(type='LabelSmoothingCrossEntropyLoss')).loss_by_score(
        logits, samples([255, 255])
    )
    torch.testing.assert_close(soft['loss_ls'], torch.log(torch.tensor(300.0)))


def test_predict_gives_softmax_scores_and_argmax_labels():
    logits, _ = logits_and_labels()
    given = samples([0] * 6)
    out = head().predict_by_score(logits, given)
    assert out is given
    for sample, row in zip(out, logits, strict=True):
        assert sample.pred_score.shape == (NUM_CLASSES,) and not sample.pred_score.requires_grad
        torch.testing.assert_close(sample.pred_score.sum(), torch.tensor(1.0))
        torch.testing.assert_close(sample.pred_score, row.float().softmax(dim=0))
        assert sample.pred_label.tolist() == [int(row.argmax())] and int(sample.gt_label) == 0
    fresh = head().predict_by_score(logits)
    assert len(fresh) == 6 and 'gt_label' not in fresh[0]


@pytest.mark.parametrize(
    'kwargs, match',
    [
        (dict(num_classes=0), 'num_classes must be a positive int'),
        (dict(topk=(1, 6)), r'topk=\(1, 6\) exceeds num_classes=5'),
        (dict(topk=(0,)), 'topk must be positive ints'),
        (dict(final_drop=1.0), 'final_drop'),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        head(**kwargs)


def test_check_in_channels_names_the_key():
    h = head()
    h.check_in_channels((4,), 'neck', 'head', pooled=True)
    with pytest.raises(ValueError, match=r'head.in_channels=4 does not match the neck.*set head.in_channels=8'):
        h.check_in_channels((2, 8), 'neck', 'head', pooled=True)
    with pytest.raises(ValueError, match=r'head.in_index=-1 is out of range'):
        h.check_in_channels((), 'neck', 'head', pooled=True)
    with pytest.raises(ValueError, match=r'head=LinearClsHead takes pooled.*GlobalAveragePooling'):
        h.check_in_channels((4,), 'backbone', 'head', pooled=False)
