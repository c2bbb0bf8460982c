"""Models of segtools; importing this package registers them in ``MODELS``."""

from . import layers  # noqa: F401  (registers RFConv2d, SyncBatchNorm)
