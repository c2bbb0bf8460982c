"""Helpers shared by heads and segmentors."""

from .wrappers import add_prefix, resize

__all__ = ['add_prefix', 'resize']
