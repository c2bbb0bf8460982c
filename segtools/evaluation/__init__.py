"""Evaluation: metrics (registered) and the pure functions they are built on."""

from . import functional
from .metrics import IoUMetric, TopKAccuracyMetric

__all__ = ['functional', 'IoUMetric', 'TopKAccuracyMetric']
