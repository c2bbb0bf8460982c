"""Models of segtools; importing this package registers them in ``MODELS``.

It also imports :mod:`segtools.weights`, which registers the weights-only checkpoint loaders and
``segtools://`` with mmengine, so a Runner that imports segtools' models (``default_scope='segtools'``,
``custom_imports``) loads ``init_cfg`` Pretrained, ``load_from`` and ``resume`` checkpoints weights-only.
"""

import segtools.weights  # noqa: F401  (registers segtools:// and the weights-only checkpoint loaders)

from . import (  # noqa: F401  (registration)
    backbones,
    batch_augments,
    classifiers,
    decode_heads,
    layers,
    losses,
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
