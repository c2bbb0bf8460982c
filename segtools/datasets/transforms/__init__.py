"""Data transforms, by family: loading, geometric, photometric, recognition, formatting."""

from .formatting import PackSegInputs
from .geometric import EncodingRandomResize, Pad, RandomCrop, RandomFlip, RandomResize, RandomRotate, TransformRNG
from .loading import LoadAnnotations, LoadImageFromNDArray
from .photometric import ColorJitter, Lighting, PhotoMetricDistortion, RandomGaussianBlur
from .recognition import ECenterCrop, ERandomCrop, RandAugment

__all__ = [
    'ColorJitter',
    'ECenterCrop',
    'ERandomCrop',
    'EncodingRandomResize',
    'Lighting',
    'LoadAnnotations',
    'LoadImageFromNDArray',
    'PackSegInputs',
    'Pad',
    'PhotoMetricDistortion',
    'RandAugment',
    'RandomCrop',
    'RandomFlip',
    'RandomGaussianBlur',
    'RandomResize',
    'RandomRotate',
    'TransformRNG',
]
