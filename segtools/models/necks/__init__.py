"""Necks; each declares ``out_channels`` and ``out_strides`` per output (``None``: pooled vectors)."""

from .fpn import FPN
from .global_average_pooling import GlobalAveragePooling
from .jpu import JPU

__all__ = ['FPN', 'GlobalAveragePooling', 'JPU']
