"""Necks; each declares ``out_channels`` and ``out_strides`` per output."""

from .fpn import FPN
from .jpu import JPU

__all__ = ['FPN', 'JPU']
