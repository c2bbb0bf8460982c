"""Inference API: build a model from a config and checkpoint, predict, draw and save results."""

from segtools.datasets.transforms import LoadImageFromNDArray

from .inference import ImageReadError, inference_model, init_model, save_prediction_png, show_result, top_classes
from .model_loading import revert_sync_batchnorm

__all__ = [
    'ImageReadError',
    'LoadImageFromNDArray',
    'inference_model',
    'init_model',
    'revert_sync_batchnorm',
    'save_prediction_png',
    'show_result',
    'top_classes',
]
