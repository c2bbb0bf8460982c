"""TopKAccuracyMetric against ranking each sample's scores by hand."""

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement

from segtools.evaluation.metrics.accuracy_metric import TopKAccuracyMetric
from segtools.registry import METRICS


def make_samples(num: int, num_classes: int = 8, seed: int = 0) -> list[BaseDataElement]:
    g = torch.Generator().manual_seed(seed)
    return [
        BaseDataElement(
            pred_score=torch.randn(num_classes, generator=g),
            gt_label=torch.randint(0, num_classes, (1,), generator=g),
            metainfo=dict(img_path=f'img/{i}.jpg'),
        )
        for i in range(num)
    ]


def expected_topk(samples: list[BaseDataElement], k: int) -> float:
    hits = 0
    for s in samples:
        order = np.argsort(-s.pred_score.numpy())  # best first
        hits += int(s.gt_label.item() in order[:k])
    return 100.0 * hits / len(samples)


def expected_mean_class_acc(samples: list[BaseDataElement]) -> float:
    per_class = {}
    for s in samples:
        label = s.gt_label.item()
        per_class.setdefault(label, []).append(int(np.argmax(s.pred_score.numpy()) == label))
    return 100.0 * float(np.mean([np.mean(hits) for hits in per_class.values()]))


def test_registered():
    assert METRICS.get('TopKAccuracyMetric') is TopKAccuracyMetric


def test_top1_top5_match_ranking():
    samples = make_samples(30)
    evaluator = Evaluator(TopKAccuracyMetric(topk=(1, 5)))
    evaluator.process(samples[:16])
    evaluator.process(samples[16:])
    got = evaluator.evaluate(len(samples))
    assert got == {
        'top1': pytest.approx(expected_topk(samples, 1)),
        'top5': pytest.approx(expected_topk(samples, 5)),
        'mean_class_acc': pytest.approx(expected_mean_class_acc(samples)),
    }
    assert got['mean_class_acc'] != pytest.approx(got['top1'])  # imbalanced classes: the two differ
    assert 0 < got['top1'] < got['top5'] < 100  # the fixture separates the two


def test_accepts_plain_dicts_and_int_labels():
    metric = TopKAccuracyMetric(topk=1)
    metric.process({}, [dict(pred_score=torch.tensor([0.1, 0.9, 0.0]), gt_label=1)])
    metric.process({}, [dict(pred_score=torch.tensor([0.1, 0.9, 0.0]), gt_label=2)])
    # Class 1: 1 of 1 right, class 2: 0 of 1; class 0 has no sample and does not count.
    assert metric.compute_metrics(metric.results) == {'top1': 50.0, 'mean_class_acc': 50.0}


def test_per_class_table_names_the_classes(monkeypatch):
    logged = []
    monkeypatch.setattr(
        'segtools.evaluation.metrics.accuracy_metric.print_log', lambda msg, **kwargs: logged.append(msg)
    )
    metric = TopKAccuracyMetric(topk=1)
    metric.dataset_meta = dict(classes=('cat', 'dog', 'eel'))
    for label in (0, 0, 1):
        metric.process({}, [dict(pred_score=torch.tensor([0.9, 0.1, 0.0]), gt_label=label)])
    assert metric.compute_metrics(metric.results)['mean_class_acc'] == 50.0
    table = logged[0]
    assert '| cat   |       2 | 100.00 |' in table and '| dog   |       1 |   0.00 |' in table
    assert '| eel   |       0 |    nan |' in table
    logged.clear()
    TopKAccuracyMetric(topk=1, per_class_table=2).compute_metrics(metric.results)
    assert not logged


def test_errors_name_the_sample():
    sample = dict(pred_score=torch.zeros(3), gt_label=7, img_path='img/bad.jpg')
    with pytest.raises(ValueError, match=r'img/bad.jpg.*target values \[7\]'):
        TopKAccuracyMetric(topk=1).process({}, [sample])
    with pytest.raises(ValueError, match=r'img/bad.jpg.*topk=\(1, 5\).*\[1, 3\]'):
        TopKAccuracyMetric().process({}, [dict(sample, gt_label=0)])
    with pytest.raises(KeyError, match='pred_score'):
        TopKAccuracyMetric().process({}, [dict(gt_label=0)])
    with pytest.raises(ValueError, match='positive'):
        TopKAccuracyMetric(topk=(0,))
