"""Confusion matrix, per-class metrics and top-k against loops written out in numpy."""

import math

import numpy as np
import pytest
import torch

from segtools.evaluation.functional import (
    confusion_matrix,
    frequency_weighted_iou,
    nanmean,
    per_class_accuracy,
    per_class_dice,
    per_class_iou,
    per_class_precision_recall_fscore,
    pixel_accuracy,
    topk_correct,
)

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA'))]


def _random_maps(seed: int, num_classes: int, shape=(13, 17), ignore_index=255, ignore_frac=0.2):
    """Pred and label over classes ``0 .. num_classes - 2`` (the last class never occurs) with ignore pixels."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, num_classes - 1, size=shape)
    pred = rng.integers(0, num_classes - 1, size=shape)
    label[rng.random(shape) < ignore_frac] = ignore_index
    return torch.from_numpy(pred), torch.from_numpy(label)


def _numpy_confusion(pred: np.ndarray, label: np.ndarray, num_classes: int, ignore_index: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for p, g in zip(pred.ravel(), label.ravel(), strict=True):
        if g != ignore_index:
            cm[g, p] += 1
    return cm


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('label_dtype', [torch.int64, torch.uint8])
def test_confusion_matrix_matches_loop(device, label_dtype):
    num_classes = 6
    pred, label = _random_maps(0, num_classes)
    cm = confusion_matrix(pred.to(device), label.to(label_dtype), num_classes, ignore_index=255)
    assert cm.device.type == device and cm.dtype == torch.int64 and cm.shape == (num_classes, num_classes)
    expected = _numpy_confusion(pred.numpy(), label.numpy(), num_classes, 255)
    np.testing.assert_array_equal(cm.cpu().numpy(), expected)
    assert cm.sum().item() == (label != 255).sum().item()


def test_confusion_matrix_rejects_out_of_range_labels_with_values():
    pred = torch.zeros(1, 2, 3, dtype=torch.long)
    label = torch.tensor([[[0, 7, 255], [9, 7, 1]]])
    with pytest.raises(ValueError, match=r'label values \[7, 9\].*outside \[0, 4\).*ignore_index=255'):
        confusion_matrix(pred, label, num_classes=4)
    # A negative label that is not the ignore value is just as wrong.
    with pytest.raises(ValueError, match=r'\[-1\]'):
        confusion_matrix(pred, torch.full((1, 2, 3), -1), num_classes=4)


def test_confusion_matrix_rejects_bad_predictions_and_shapes():
    label = torch.zeros(1, 2, 2, dtype=torch.long)
    with pytest.raises(ValueError, match=r'predicted values \[5\]'):
        confusion_matrix(torch.full((1, 2, 2), 5), label, num_classes=3)
    with pytest.raises(ValueError, match=r'shapes differ.*\(1, 3, 2\).*\(1, 2, 2\)'):
        confusion_matrix(torch.zeros(1, 3, 2, dtype=torch.long), label, num_classes=3)


def test_ignore_index_excludes_any_prediction():
    # Ignored pixels may carry an out-of-range prediction in practice: it must not count or raise.
    label = torch.tensor([0, 255, 1])
    pred = torch.tensor([0, 1, 1])
    np.testing.assert_array_equal(confusion_matrix(pred, label, 2).numpy(), [[1, 0], [0, 1]])


def test_per_class_metrics_match_set_definitions():
    num_classes = 5
    pred, label = _random_maps(1, num_classes)
    # Make class 3 appear only in the prediction: IoU 0 (not NaN), Acc NaN.
    pred[0, :3] = 3
    label[label == 3] = 255
    cm = confusion_matrix(pred, label, num_classes)
    valid = label != 255
    for c in range(num_classes):
        inter = ((pred == c) & (label == c) & valid).sum().item()
        union = (((pred == c) | (label == c)) & valid).sum().item()
        gt = ((label == c) & valid).sum().item()
        pr = ((pred == c) & valid).sum().item()
        iou, acc = per_class_iou(cm)[c].item(), per_class_accuracy(cm)[c].item()
        dice = per_class_dice(cm)[c].item()
        assert math.isnan(iou) if union == 0 else iou == pytest.approx(inter / union)
        assert math.isnan(acc) if gt == 0 else acc == pytest.approx(inter / gt)
        assert math.isnan(dice) if gt + pr == 0 else dice == pytest.approx(2 * inter / (gt + pr))
    assert per_class_iou(cm)[3].item() == 0.0 and math.isnan(per_class_accuracy(cm)[3].item())
    assert math.isnan(per_class_iou(cm)[4].item())  # never occurs
    assert pixel_accuracy(cm) == pytest.approx(((pred == label) & valid).sum().item() / valid.sum().item())


def test_fwiou_formula():
    cm = torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    # freq = [6, 5, 0] / 11; IoU_0 = 5 / (6 + 7 - 5), IoU_1 = 3 / (5 + 4 - 3).
    expected = 6 / 11 * 5 / 8 + 5 / 11 * 3 / 6
    assert frequency_weighted_iou(cm) == pytest.approx(expected)
    assert math.isnan(frequency_weighted_iou(torch.zeros(3, 3, dtype=torch.long)))
    assert math.isnan(pixel_accuracy(torch.zeros(3, 3, dtype=torch.long)))


@pytest.mark.parametrize('beta', [1.0, 2.0])
def test_fscore_agrees_with_precision_recall(beta):
    cm = torch.tensor([[4, 2, 0, 0], [1, 3, 0, 0], [3, 0, 0, 0], [0, 0, 0, 0]])
    precision, recall, fscore = per_class_precision_recall_fscore(cm, beta)
    for c in range(2):  # P and R defined and non-zero
        p, r = precision[c].item(), recall[c].item()
        assert fscore[c].item() == pytest.approx((1 + beta**2) * p * r / (beta**2 * p + r))
    # Class 2 occurs but is never predicted: P is 0/0, R is 0, F is 0. Class 3 never occurs: all NaN.
    assert math.isnan(precision[2].item()) and recall[2].item() == 0 and fscore[2].item() == 0
    assert all(math.isnan(t[3].item()) for t in (precision, recall, fscore))


def test_nanmean():
    assert nanmean(torch.tensor([1.0, float('nan'), 3.0])) == 2.0
    assert math.isnan(nanmean(torch.tensor([float('nan')])))


def test_topk_correct_matches_sorting():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(20, 7, generator=g, dtype=torch.float64)
    target = torch.randint(0, 7, (20,), generator=g)
    hits = topk_correct(scores, target, (1, 3))
    order = np.argsort(-scores.numpy(), axis=1)
    for n in range(20):
        for j, k in enumerate((1, 3)):
            assert hits[n, j].item() == (target[n].item() in order[n, :k])


def test_topk_correct_errors():
    with pytest.raises(ValueError, match=r'topk=\(1, 5\).*\[1, 3\]'):
        topk_correct(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), (1, 5))
    with pytest.raises(ValueError, match=r'target values \[3\]'):
        topk_correct(torch.zeros(2, 3), torch.tensor([0, 3]), (1,))
