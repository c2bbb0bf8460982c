"""Visualization: palettes and the segmentation visualizer."""

from .palette import colorize, get_palette, save_palette_png
from .seg_local_visualizer import SegLocalVisualizer

__all__ = ['SegLocalVisualizer', 'colorize', 'get_palette', 'save_palette_png']
