"""Helpers shared by heads and segmentors."""

from .adaptive_pool import AdaptiveAvgPool2d, adaptive_avg_pool2d
from .wrappers import add_prefix, resize

__all__ = ['AdaptiveAvgPool2d', 'adaptive_avg_pool2d', 'add_prefix', 'resize']
