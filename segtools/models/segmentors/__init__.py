"""Segmentors: the models the Runner trains and evaluates."""

from .base import BaseSegmentor
from .encoder_decoder import EncoderDecoder
from .seg_tta import SegTTAModel, fuse_probabilities, multi_scale_flip_inference

__all__ = ['BaseSegmentor', 'EncoderDecoder', 'SegTTAModel', 'fuse_probabilities', 'multi_scale_flip_inference']
