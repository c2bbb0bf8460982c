"""Models of segtools; importing this package registers them in ``MODELS``."""

from . import backbones, decode_heads, layers, losses, necks, segmentors  # noqa: F401  (registration)
from .data_preprocessor import SegDataPreProcessor
from .segmentors import EncoderDecoder, SegTTAModel

__all__ = ['SegDataPreProcessor', 'EncoderDecoder', 'SegTTAModel']
