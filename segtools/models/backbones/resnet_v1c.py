"""ResNetV1c: ResNet with a deep stem (ResNet-C)."""

from segtools.registry import MODELS

from .resnet import ResNet


@MODELS.register_module()
class ResNetV1c(ResNet):
    """ResNet whose 7x7 stem conv is three 3x3 convs (ResNet-C, "Bag of Tricks", He et al., 2019).

    The default ``stem_channels=64`` (convs of 32, 32 and 64 channels) is mmseg's ``ResNetV1c``
    and the width of the ``open-mmlab://resnet50_v1c`` checkpoints (``segtools://resnet50_v1c``),
    so an mmseg config builds the same model. PyTorch-Encoding's ``resnet50s``/``resnet101s``/
    ``resnet152s`` (PSPNet-style) use ``stem_channels=128`` (64, 64 and 128), which segtools'
    PyTorch-Encoding recipes pass explicitly.

    Args:
        depth: 18, 34, 50, 101 or 152.
        stem_channels: Channels the stem outputs.
        **kwargs: The other arguments of :class:`ResNet` (not ``deep_stem``).
    """

    def __init__(self, depth: int, *, stem_channels: int = 64, **kwargs) -> None:
        super().__init__(depth, stem_channels=stem_channels, deep_stem=True, **kwargs)
