"""IoUMetric against an independent per-class loop over random maps with ignore pixels and absent classes."""

import json
import math
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData

import segtools.evaluation.metrics.iou_metric as iou_metric_module
from segtools.evaluation.metrics.iou_metric import IoUMetric
from segtools.registry import METRICS
from segtools.structures import SegDataSample

CLASSES = ('sky', 'tree', 'road', 'car', 'person', 'boat')  # 'boat' (5) never occurs; 'car' (3) only in gt
IGNORE = 255


def make_samples(num: int, seed: int = 0, shape=(9, 11)) -> list[SegDataSample]:
    """Random predictions/labels over classes 0..4 with ~20 % ignore pixels; class 3 never predicted, 5 never seen."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(num):
        label = torch.randint(0, 5, (1, *shape), generator=g)
        pred = torch.randint(0, 5, (1, *shape), generator=g)
        pred[pred == 3] = 0
        label[torch.rand((1, *shape), generator=g) < 0.2] = IGNORE
        sample = SegDataSample(metainfo=dict(img_path=f'img/{i:03d}.jpg', seg_map_path=f'ann/{i:03d}.png'))
        sample.gt_sem_seg = PixelData(data=label)
        sample.pred_sem_seg = PixelData(data=pred)
        samples.append(sample)
    return samples


def loop_metrics(samples: list[SegDataSample], num_classes: int) -> dict:
    """aAcc/IoU/Acc/fwIoU written out from their definitions, pixel by pixel over the whole set."""
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    gt_area = np.zeros(num_classes)
    correct = total = 0
    for s in samples:
        label = s.gt_sem_seg.data.numpy().ravel()
        pred = s.pred_sem_seg.data.numpy().ravel()
        for g, p in zip(label, pred, strict=True):
            if g == IGNORE:
                continue
            total += 1
            correct += int(g == p)
            gt_area[g] += 1
            if g == p:
                inter[g] += 1
                union[g] += 1
            else:
                union[g] += 1
                union[p] += 1
    iou = np.array([inter[c] / union[c] if union[c] else math.nan for c in range(num_classes)])
    acc = np.array([inter[c] / gt_area[c] if gt_area[c] else math.nan for c in range(num_classes)])
    fwiou = sum(gt_area[c] / total * iou[c] for c in range(num_classes) if gt_area[c])
    return dict(aAcc=correct / total, IoU=iou, Acc=acc, fwIoU=fwiou)


def build_metric(**kwargs) -> IoUMetric:
    metric = IoUMetric(**kwargs)
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def test_registered():
    assert METRICS.get('IoUMetric') is IoUMetric


def test_matches_independent_loop():
    samples = make_samples(4)
    evaluator = Evaluator(build_metric())
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process(samples[:2])  # the Evaluator hands metrics dicts, as in a real run
    evaluator.process(samples[2:])
    got = evaluator.evaluate(len(samples))
    ref = loop_metrics(samples, len(CLASSES))
    assert math.isnan(ref['IoU'][5]) and ref['IoU'][3] == 0  # the fixture has both kinds of class
    assert got['aAcc'] == pytest.approx(100 * ref['aAcc'])
    assert got['mIoU'] == pytest.approx(100 * np.nanmean(ref['IoU']))
    assert got['mAcc'] == pytest.approx(100 * np.nanmean(ref['Acc']))
    assert got['fwIoU'] == pytest.approx(100 * ref['fwIoU'])
    assert set(got) == {'aAcc', 'mIoU', 'mAcc', 'fwIoU'}


def test_accepts_data_samples_and_stores_only_sparse_counts():
    samples = make_samples(2)
    metric = build_metric()
    metric.process({}, samples)
    assert len(metric.results) == 2
    assert set(metric.results[0]) == {'index', 'count'}
    assert metric.results[0]['count'].sum().item() == (samples[0].gt_sem_seg.data != IGNORE).sum().item()


def test_absent_classes_excluded_and_reported(monkeypatch):
    messages = []
    monkeypatch.setattr(iou_metric_module, 'print_log', lambda msg, **kw: messages.append(msg))
    samples = make_samples(3)
    metric = build_metric()
    metric.process({}, samples)
    got = metric.compute_metrics(metric.results)
    ref = loop_metrics(samples, len(CLASSES))
    # Only 'boat' is NaN: mean over the 5 others (car's IoU 0 counts).
    assert got['mIoU'] == pytest.approx(100 * ref['IoU'][:5].mean())
    table = next(m for m in messages if m.startswith('per class results'))
    assert 'boat' in table and 'nan' in table
    summary = next(m for m in messages if 'absent from both' in m)
    assert summary.startswith('1 of 6 classes') and 'excluded' in summary and 'boat' in summary


def test_nan_to_num_counts_absent_classes():
    samples = make_samples(3)
    metric = build_metric(nan_to_num=0)
    metric.process({}, samples)
    got = metric.compute_metrics(metric.results)
    ref = loop_metrics(samples, len(CLASSES))
    assert got['mIoU'] == pytest.approx(100 * np.nan_to_num(ref['IoU'], nan=0.0).mean())


def test_dice_and_fscore_keys():
    samples = make_samples(2)
    metric = build_metric(iou_metrics=['mIoU', 'mDice', 'mFscore'])
    metric.process({}, samples)
    got = metric.compute_metrics(metric.results)
    assert {'mDice', 'mFscore', 'mPrecision', 'mRecall'} <= set(got)
    # With beta = 1 the F-score and Dice are the same per-class quantity.
    assert got['mFscore'] == pytest.approx(got['mDice'])


def test_out_of_range_label_names_files_and_values():
    sample = make_samples(1)[0]
    sample.gt_sem_seg.data[0, 0, :2] = torch.tensor([6, 40])
    metric = build_metric()
    with pytest.raises(ValueError) as info:
        metric.process({}, [sample])
    msg = str(info.value)
    assert 'img/000.jpg' in msg and 'ann/000.png' in msg and '[6, 40]' in msg and '[0, 6)' in msg


def test_missing_prediction_and_meta_errors():
    sample = make_samples(1)[0]
    del sample.pred_sem_seg
    with pytest.raises(KeyError, match='pred_sem_seg'):
        build_metric().process({}, [sample])
    with pytest.raises(ValueError, match='dataset_meta'):
        IoUMetric().process({}, make_samples(1))


def test_bad_arguments():
    with pytest.raises(ValueError, match='mBoundary'):
        IoUMetric(iou_metrics=['mBoundary'])
    with pytest.raises(ValueError, match='output_dir'):
        IoUMetric(format_only=True)
    with pytest.raises(TypeError, match='keep_results'):
        IoUMetric(keep_results=True)


@pytest.mark.parametrize('reduce_zero_label', [True, False])
def test_format_only_writes_offset_pngs(tmp_path, reduce_zero_label):
    samples = make_samples(2)
    for s in samples:
        s.set_metainfo(dict(reduce_zero_label=reduce_zero_label))
        del s.gt_sem_seg  # test sets have no ground truth
    metric = build_metric(format_only=True, output_dir=str(tmp_path))
    metric.process({}, samples)
    assert metric.evaluate(len(samples)) == {}
    assert sorted(os.listdir(tmp_path)) == ['000.png', '001.png']
    offset = 1 if reduce_zero_label else 0
    for i, s in enumerate(samples):
        png = cv2.imread(str(tmp_path / f'{i:03d}.png'), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(png, s.pred_sem_seg.data[0].numpy() + offset)


def test_save_predictions_writes_pngs_and_computes_metrics(tmp_path):
    samples = make_samples(2)
    metric = build_metric(save_predictions=True, output_dir=str(tmp_path))
    metric.process({}, samples)
    got = metric.evaluate(len(samples))
    assert got['mIoU'] == pytest.approx(100 * np.nanmean(loop_metrics(samples, len(CLASSES))['IoU']))
    assert sorted(os.listdir(tmp_path)) == ['000.png', '001.png', 'metrics.json']
    for i, s in enumerate(samples):
        png = cv2.imread(str(tmp_path / f'{i:03d}.png'), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(png, s.pred_sem_seg.data[0].numpy())
    with pytest.raises(ValueError, match='save_predictions=True needs output_dir'):
        IoUMetric(save_predictions=True)


def test_json_and_confusion_png_written(tmp_path):
    samples = make_samples(3)
    metric = build_metric(output_dir=str(tmp_path / 'work'), save_confusion_png=True)
    metric.process({}, samples)
    got = metric.evaluate(len(samples))
    assert sorted(os.listdir(tmp_path / 'work')) == ['confusion_matrix.png', 'metrics.json']  # no temp files left
    report = json.loads((tmp_path / 'work' / 'metrics.json').read_text())
    assert report['metrics']['mIoU'] == pytest.approx(got['mIoU'])
    assert report['num_excluded_classes'] == 1 and report['excluded_classes'] == ['boat']
    per_class = {row['class']: row for row in report['per_class']}
    assert per_class['boat']['IoU'] is None and per_class['car']['IoU'] == 0.0
    ref = loop_metrics(samples, len(CLASSES))
    assert per_class['sky']['IoU'] == pytest.approx(100 * ref['IoU'][0])
    png = cv2.imread(str(tmp_path / 'work' / 'confusion_matrix.png'))
    assert png.shape[0] == png.shape[1] and png.shape[0] % len(CLASSES) == 0
