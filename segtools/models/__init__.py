"""Models of segtools; importing this package registers them in ``MODELS``."""

from . import (  # noqa: F401  (registration)
    backbones,
    decode_heads,
    layers,
    losses,
    model_store,  # noqa: F401  (registers segtools:// and the weights-only checkpoint loaders)
    necks,
    samplers,
    segmentors,
)
from .data_preprocessor import SegDataPreProcessor
from .segmentors import EncoderDecoder, SegTTAModel

__all__ = ['SegDataPreProcessor', 'EncoderDecoder', 'SegTTAModel']
