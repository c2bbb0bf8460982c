"""Segmentors: the models the Runner trains and evaluates."""

from .base import BaseSegmentor
from .encoder_decoder import EncoderDecoder
from .multi_view import fuse_probabilities, infer_views
from .seg_tta import SegTTAModel, multi_scale_flip_inference

__all__ = [
    'BaseSegmentor',
    'EncoderDecoder',
    'SegTTAModel',
    'fuse_probabilities',
    'infer_views',
    'multi_scale_flip_inference',
]
