"""Pixel samplers of decode heads; importing this package registers them in ``TASK_UTILS``."""

from .ohem_pixel_sampler import OHEMPixelSampler, ohem_pixel_weight

__all__ = ['OHEMPixelSampler', 'ohem_pixel_weight']
