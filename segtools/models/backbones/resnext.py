"""ResNeXt backbone: ResNet with grouped 3x3 convs."""

from segtools.registry import MODELS

from .resnet import ResNet


@MODELS.register_module()
class ResNeXt(ResNet):
    """ResNeXt ("Aggregated Residual Transformations for Deep Neural Networks", Xie et al., 2017).

    The bottleneck's 3x3 conv has ``groups`` groups of ``base_width`` channels at
    64 planes: ``resnext50_32x4d`` is ``ResNeXt(50, groups=32, base_width=4)``,
    ``resnext101_32x8d`` is ``ResNeXt(101, groups=32, base_width=8)``.

    Args:
        depth: 50, 101 or 152 (bottleneck depths).
        groups: Cardinality.
        base_width: Channels per group at 64 planes.
        **kwargs: The other arguments of :class:`ResNet`.
    """

    arch_settings = {k: v for k, v in ResNet.arch_settings.items() if k >= 50}

    def __init__(self, depth: int, *, groups: int = 32, base_width: int = 4, **kwargs) -> None:
        super().__init__(depth, groups=groups, base_width=base_width, **kwargs)
