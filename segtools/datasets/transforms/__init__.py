"""Data transforms, by family: loading, geometric, photometric, recognition, formatting."""

from .formatting import PackClsInputs, PackSegInputs
from .geometric import EncodingRandomResize, Pad, RandomCrop, RandomFlip, RandomResize, RandomRotate
from .loading import LoadAnnotations, LoadImageFromFile, LoadImageFromNDArray
from .patch import CropAroundCenter
from .photometric import ColorJitter, Lighting, PhotoMetricDistortion, RandomGaussianBlur
from .recognition import ECenterCrop, ERandomCrop, RandAugment
from .rng import TransformRNG

__all__ = [
    'ColorJitter',
    'CropAroundCenter',
    'ECenterCrop',
    'ERandomCrop',
    'EncodingRandomResize',
    'Lighting',
    'LoadAnnotations',
    'LoadImageFromFile',
    'LoadImageFromNDArray',
    'PackClsInputs',
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
