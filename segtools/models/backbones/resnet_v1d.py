"""ResNetV1d: ResNet with a deep stem and average-pool shortcuts (ResNet-D)."""

from segtools.registry import MODELS

from .resnet import ResNet


@MODELS.register_module()
class ResNetV1d(ResNet):
    """ResNet-D ("Bag of Tricks", He et al., 2019): deep stem, and shortcut projections
    that average-pool before a stride-1 1x1 conv.

    The default ``stem_channels=64`` (convs of 32, 32 and 64 channels) is
    PyTorch-Encoding's ``resnet50d`` (stem width 32) and mmseg's ``ResNetV1d``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        stem_channels: Channels the stem outputs.
        **kwargs: The other arguments of :class:`ResNet` (not ``deep_stem`` or
            ``avg_down``).
    """

    def __init__(self, depth: int, *, stem_channels: int = 64, **kwargs) -> None:
        super().__init__(depth, stem_channels=stem_channels, deep_stem=True, avg_down=True, **kwargs)
