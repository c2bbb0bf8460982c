"""ClsDataSample: field conversion on assignment, plain field names for the metric, device moves."""

import pickle

import numpy as np
import pytest
import torch

from segtools.evaluation.metrics import TopKAccuracyMetric
from segtools.structures import ClsDataSample


@pytest.mark.parametrize(
    'value', [3, np.int64(3), torch.tensor(3), torch.tensor([3], dtype=torch.int32), np.array([3])]
)
def test_labels_become_long_tensors_of_one_element(value):
    sample = ClsDataSample()
    sample.gt_label = value
    sample.pred_label = value
    for label in (sample.gt_label, sample.pred_label):
        assert label.dtype == torch.int64 and label.shape == (1,) and int(label) == 3


@pytest.mark.parametrize(
    'value, error',
    [(1.0, TypeError), (True, TypeError), (torch.tensor([1.0]), TypeError), (torch.tensor([1, 2]), ValueError)],
)
def test_bad_labels_are_refused(value, error):
    with pytest.raises(error, match='gt_label'):
        ClsDataSample().gt_label = value


def test_scores_are_float_vectors():
    sample = ClsDataSample()
    sample.gt_score = [0, 1, 0]
    sample.pred_score = np.array([0.2, 0.8], dtype=np.float64)
    assert sample.gt_score.dtype == torch.float32 and sample.gt_score.tolist() == [0.0, 1.0, 0.0]
    assert sample.pred_score.dtype == torch.float64
    with pytest.raises(ValueError, match=r'pred_score must have shape \(num_classes,\)'):
        sample.pred_score = torch.zeros(2, 3)


def test_fields_keep_their_names_and_survive_copies():
    sample = ClsDataSample(metainfo=dict(img_path='a.png'))
    sample.gt_label = 1
    sample.pred_score = torch.tensor([0.3, 0.7])
    assert 'gt_label' in sample and set(sample.to_dict()) == {'img_path', 'gt_label', 'pred_score'}
    for copy in (sample.to('cpu'), sample.clone(), pickle.loads(pickle.dumps(sample))):
        assert isinstance(copy, ClsDataSample)
        assert int(copy.gt_label) == 1 and copy.metainfo == {'img_path': 'a.png'}


def test_topk_metric_reads_the_samples():
    metric = TopKAccuracyMetric(topk=(1, 2))
    samples = []
    for label, score in ((1, [0.1, 0.6, 0.3]), (0, [0.1, 0.6, 0.3])):
        sample = ClsDataSample(metainfo=dict(img_path=f'{label}.png'))
        sample.gt_label, sample.pred_score = label, torch.tensor(score)
        samples.append(sample)
    metric.process({}, samples)
    assert metric.compute_metrics(metric.results) == {'top1': 50.0, 'top2': 50.0, 'mean_class_acc': 50.0}
