"""Models of segtools; importing this package registers them in ``MODELS``."""

from . import (  # noqa: F401  (registration)
    backbones,
    batch_augments,
    classifiers,
    decode_heads,
    layers,
    losses,
    model_store,  # noqa: F401  (registers segtools:// and the weights-only checkpoint loaders)
    necks,
    samplers,
    segmentors,
)
from .classifiers import ClsTTAModel, ImageClassifier
from .cls_data_preprocessor import ClsDataPreProcessor
from .data_preprocessor import SegDataPreProcessor
from .segmentors import EncoderDecoder, SegTTAModel

__all__ = [
    'ClsDataPreProcessor',
    'ClsTTAModel',
    'EncoderDecoder',
    'ImageClassifier',
    'SegDataPreProcessor',
    'SegTTAModel',
]
