"""Registered metrics."""

from .accuracy_metric import TopKAccuracyMetric
from .iou_metric import IoUMetric

__all__ = ['IoUMetric', 'TopKAccuracyMetric']
