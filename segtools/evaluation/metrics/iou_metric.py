"""Semantic-segmentation metric built on one confusion matrix per dataset."""

import json
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from segtools.constants import IGNORE_INDEX
from segtools.evaluation.functional import (
    confusion_matrix,
    format_table,
    frequency_weighted_iou,
    nanmean,
    per_class_accuracy,
    per_class_dice,
    per_class_iou,
    per_class_precision_recall_fscore,
    pixel_accuracy,
)
from segtools.registry import METRICS
from segtools.utils.fileio import atomic_write_bytes as _write_bytes

_ALLOWED_METRICS = ('mIoU', 'mDice', 'mFscore')


@METRICS.register_module()
class IoUMetric(BaseMetric):
    """aAcc (pixAcc), mIoU, mAcc, fwIoU and per-class IoU/Acc from a confusion matrix.

    ``process`` counts each sample's ``(ground truth, prediction)`` pairs with
    ``torch.bincount`` on the prediction's device and keeps only the non-zero cells of that
    sample's ``(C, C)`` matrix (a few hundred numbers, not the masks). One entry per sample,
    rather than a running sum, is what lets mmengine's ``collect_results`` drop the samples
    the distributed sampler repeated to even out the ranks (it truncates the interleaved list
    to the dataset size), so 1 and N processes give identical, exact integer totals.

    A class absent from both the ground truth and the predictions of the whole set has an
    undefined (NaN) IoU; it is left out of every mean and the log says how many were. Set
    ``nan_to_num=0`` to count them as 0 instead (PyTorch-Encoding's mean over all classes).

    Args:
        ignore_index: Label value left out of every count.
        iou_metrics: Any of ``'mIoU'`` (always computed along with aAcc, mAcc, fwIoU),
            ``'mDice'``, ``'mFscore'`` (adds mPrecision, mRecall).
        nan_to_num: Value replacing NaN per-class results before averaging; ``None`` keeps
            NaN and excludes those classes from the means.
        beta: The ``beta`` of the F-score.
        collect_device: ``'cpu'`` or ``'gpu'``, where ranks gather their results.
        collect_dir: Shared folder for ``'cpu'`` collection; mmengine makes one in the
            working directory when ``None``.
        output_dir: Folder for ``metrics.json``, the confusion-matrix PNG and, with
            ``format_only``, the submission PNGs.
        format_only: Only write each prediction as ``<image name>.png`` under ``output_dir``
            (plus 1 where the sample has ``reduce_zero_label``, ADE20K's submission format);
            no ground truth is read and no metric is computed.
        prefix: Prefix of the metric names; none by default, so the keys are ``mIoU`` etc.
            as in mmseg configs (``save_best='mIoU'``).
        save_json: Write ``metrics.json`` (atomically) when ``output_dir`` is set.
        save_confusion_png: Also write ``confusion_matrix.png``, rows normalised per
            ground-truth class; needs ``output_dir``.
        save_predictions: Write each prediction as ``format_only`` does *and* compute the
            metrics (``tools/test.py --out DIR``; mmseg writes them whenever ``output_dir``
            is set). Needs ``output_dir``.
    """

    # '' rather than None: no prefix on the keys, without BaseMetric's "prefix not set" warning.
    default_prefix = ''

    def __init__(
        self,
        ignore_index: int = IGNORE_INDEX,
        iou_metrics: str | Sequence[str] = ('mIoU',),
        nan_to_num: float | None = None,
        beta: float = 1.0,
        collect_device: str = 'cpu',
        collect_dir: str | None = None,
        output_dir: str | None = None,
        format_only: bool = False,
        prefix: str | None = None,
        save_json: bool = True,
        save_confusion_png: bool = False,
        save_predictions: bool = False,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        iou_metrics = (iou_metrics,) if isinstance(iou_metrics, str) else tuple(iou_metrics)
        unknown = [m for m in iou_metrics if m not in _ALLOWED_METRICS]
        if unknown:
            raise ValueError(f'IoUMetric: unknown iou_metrics {unknown}; allowed: {list(_ALLOWED_METRICS)}')
        if format_only and output_dir is None:
            raise ValueError('IoUMetric: format_only=True writes submission PNGs and needs output_dir')
        if save_confusion_png and output_dir is None:
            raise ValueError('IoUMetric: save_confusion_png=True needs output_dir to write the PNG into')
        if save_predictions and output_dir is None:
            raise ValueError('IoUMetric: save_predictions=True needs output_dir to write the PNGs into')
        self.ignore_index = ignore_index
        self.iou_metrics = iou_metrics
        self.nan_to_num = nan_to_num
        self.beta = beta
        self.output_dir = output_dir
        self.format_only = format_only
        self.save_json = save_json
        self.save_confusion_png = save_confusion_png
        self.save_predictions = save_predictions

    @property
    def class_names(self) -> list[str]:
        """The dataset's class names, from ``dataset_meta['classes']``."""
        meta = self.dataset_meta
        if not meta or 'classes' not in meta:
            raise ValueError(
                "IoUMetric needs dataset_meta with 'classes' (the Runner copies it from the dataset's "
                f'METAINFO; or assign metric.dataset_meta = dict(classes=...)), got {meta!r}'
            )
        return list(meta['classes'])

    def process(self, data_batch: Any, data_samples: Sequence[dict | BaseDataElement]) -> None:
        """Count one batch into per-sample sparse confusion matrices (or write submission PNGs).

        Args:
            data_batch: The dataloader batch (unused).
            data_samples: Model outputs as dicts (mmengine's ``Evaluator`` converts
                ``SegDataSample`` with ``to_dict()``) or ``SegDataSample`` objects, each with
                ``pred_sem_seg.data`` ``(1, H, W)`` and ``gt_sem_seg.data`` ``(1, H, W)``.

        Raises:
            ValueError: If a label outside ``[0, C)`` that is not ``ignore_index`` (or a
                prediction outside it) occurs; the message names the sample's files and values.
        """
        num_classes = None if self.format_only else len(self.class_names)
        for i, sample in enumerate(data_samples):
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            pred = _pixel_data(sample, 'pred_sem_seg', i)
            if self.format_only or self.save_predictions:
                self._write_submission(sample, pred, i)
            if self.format_only:
                # A placeholder keeps len(results) == samples seen, so evaluate() does not warn.
                self.results.append({})
                continue
            label = _pixel_data(sample, 'gt_sem_seg', i)
            try:
                cm = confusion_matrix(pred, label, num_classes, self.ignore_index)
            except ValueError as err:
                raise ValueError(f'IoUMetric, {_describe_sample(sample, i)}: {err}') from err
            flat = cm.reshape(-1)
            index = flat.nonzero().squeeze(1)
            self.results.append({'index': index.cpu(), 'count': flat[index].cpu()})

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """Sum the per-sample matrices and derive every metric (rank 0 only).

        Args:
            results: One ``{'index', 'count'}`` dict per sample, gathered from all ranks.

        Returns:
            Percentages: ``aAcc``, ``mIoU``, ``mAcc``, ``fwIoU`` and, if requested, ``mDice``,
            ``mFscore``, ``mPrecision``, ``mRecall``. Empty with ``format_only``.
        """
        if self.format_only:
            print_log(f'IoUMetric: submission PNGs written to {osp.abspath(self.output_dir)}', logger='current')
            return {}
        classes = self.class_names
        num_classes = len(classes)
        flat = torch.zeros(num_classes * num_classes, dtype=torch.long)
        for entry in results:
            flat.index_add_(0, entry['index'], entry['count'])
        cm = flat.reshape(num_classes, num_classes)

        # Absent from both ground truth and prediction: every ratio for the class is 0/0.
        absent = (cm.sum(1) + cm.sum(0)) == 0
        per_class = {'IoU': per_class_iou(cm), 'Acc': per_class_accuracy(cm)}
        if 'mDice' in self.iou_metrics:
            per_class['Dice'] = per_class_dice(cm)
        if 'mFscore' in self.iou_metrics:
            precision, recall, fscore = per_class_precision_recall_fscore(cm, self.beta)
            per_class.update(Fscore=fscore, Precision=precision, Recall=recall)
        if self.nan_to_num is not None:
            per_class = {k: torch.nan_to_num(v, nan=float(self.nan_to_num)) for k, v in per_class.items()}

        metrics = {'aAcc': pixel_accuracy(cm), 'mIoU': nanmean(per_class['IoU']), 'mAcc': nanmean(per_class['Acc'])}
        metrics['fwIoU'] = frequency_weighted_iou(cm)
        for name in ('Dice', 'Fscore', 'Precision', 'Recall'):
            if name in per_class:
                metrics[f'm{name}'] = nanmean(per_class[name])
        metrics = {k: v * 100.0 for k, v in metrics.items()}

        excluded = [classes[c] for c in absent.nonzero().squeeze(1).tolist()]
        self._log(classes, per_class, excluded)
        if self.output_dir is not None:
            os.makedirs(self.output_dir, exist_ok=True)
            if self.save_json:
                self._write_json(classes, metrics, per_class, excluded)
            if self.save_confusion_png:
                _write_bytes(osp.join(self.output_dir, 'confusion_matrix.png'), _confusion_png(cm))
        return metrics

    def _log(self, classes: list[str], per_class: dict[str, torch.Tensor], excluded: list[str]) -> None:
        header = ['Class', *per_class]
        rows = [[name] + [f'{v[c].item() * 100:.2f}' for v in per_class.values()] for c, name in enumerate(classes)]
        print_log('per class results:\n' + format_table(header, rows), logger='current')
        if self.nan_to_num is not None:
            note = f'counted as {self.nan_to_num} (nan_to_num)'
        else:
            note = 'excluded from the means (NaN)'
        shown = ', '.join(excluded[:20]) + (', ...' if len(excluded) > 20 else '')
        print_log(
            f'{len(excluded)} of {len(classes)} classes are absent from both ground truth and prediction and were '
            f'{note}' + (f': {shown}' if excluded else ''),
            logger='current',
        )

    def _write_json(
        self, classes: list[str], metrics: dict[str, float], per_class: dict[str, torch.Tensor], excluded: list[str]
    ) -> None:
        def finite(x: float) -> float | None:
            # JSON has no NaN: undefined values become null.
            return None if x != x else x

        report = {
            'metrics': {k: finite(v) for k, v in metrics.items()},
            'num_classes': len(classes),
            'ignore_index': self.ignore_index,
            'nan_to_num': self.nan_to_num,
            'num_excluded_classes': len(excluded),
            'excluded_classes': excluded,
            'per_class': [
                {'class': name, **{k: finite(v[c].item() * 100.0) for k, v in per_class.items()}}
                for c, name in enumerate(classes)
            ],
        }
        path = osp.join(self.output_dir, 'metrics.json')
        _write_bytes(path, json.dumps(report, indent=2).encode())
        print_log(f'IoUMetric: metrics written to {path}', logger='current')

    def _write_submission(self, sample: dict, pred: torch.Tensor, i: int) -> None:
        img_path = sample.get('img_path')
        if not img_path:
            raise KeyError(
                f'IoUMetric (writing prediction PNGs): sample {i} of the batch has no img_path to name its PNG after'
            )
        offset = 1 if sample.get('reduce_zero_label', False) else 0
        mask = pred.squeeze(0).cpu().numpy().astype(np.int64) + offset
        dtype = np.uint8 if mask.max(initial=0) < 256 else np.uint16
        ok, buf = cv2.imencode('.png', mask.astype(dtype))
        if not ok:
            raise RuntimeError(f'IoUMetric: cv2 could not encode the prediction for {img_path} as PNG')
        os.makedirs(self.output_dir, exist_ok=True)
        name = osp.splitext(osp.basename(img_path))[0] + '.png'
        _write_bytes(osp.join(self.output_dir, name), buf.tobytes())


def _describe_sample(sample: dict, i: int) -> str:
    """Name a sample by its files, which is what a person can go and inspect."""
    parts = [f'{key}={sample[key]!r}' for key in ('img_path', 'seg_map_path') if sample.get(key)]
    return 'sample ' + (' '.join(parts) if parts else f'{i} of the batch (no img_path/seg_map_path in its metainfo)')


def _pixel_data(sample: dict, key: str, i: int) -> torch.Tensor:
    """``sample[key]['data']`` with an error naming the missing key and the sample."""
    field = sample.get(key)
    if isinstance(field, BaseDataElement):
        field = field.to_dict()
    if not isinstance(field, dict) or 'data' not in field:
        raise KeyError(
            f"IoUMetric, {_describe_sample(sample, i)}: expected '{key}' with a 'data' tensor (1, H, W), "
            f'got keys {sorted(sample)}'
        )
    return field['data']


def _confusion_png(cm: torch.Tensor, target_size: int = 512) -> bytes:
    """A viridis heat map of the row-normalised matrix (ground truth down, prediction across)."""
    cm = cm.double()
    rows = cm.sum(dim=1, keepdim=True)
    norm = torch.where(rows > 0, cm / rows.clamp(min=1), torch.zeros_like(cm))
    img = (norm.numpy() * 255).round().astype(np.uint8)
    cell = max(1, target_size // cm.shape[0])
    img = cv2.resize(img, None, fx=cell, fy=cell, interpolation=cv2.INTER_NEAREST)
    ok, buf = cv2.imencode('.png', cv2.applyColorMap(img, cv2.COLORMAP_VIRIDIS))
    if not ok:
        raise RuntimeError('IoUMetric: cv2 could not encode the confusion matrix as PNG')
    return buf.tobytes()
