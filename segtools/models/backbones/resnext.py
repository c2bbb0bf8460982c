"""ResNeXt backbone: ResNet with grouped 3x3 convs."""

from segtools.registry import MODELS

from .resnet import ResNet

# Planes at which segtools' (torchvision's) ``base_width`` of a Bottleneck is measured.
WIDTH_REFERENCE = 64


def width_per_group_at_64(owner: str, groups: int, base_width: int, base_channels: int) -> int:
    """Converts mmseg's ``base_width`` into the ``base_width`` of :class:`ResNet`.

    mmseg measures ``base_width`` at ``base_channels`` planes (the first stage) and
    ignores it with ``groups == 1`` (plain width); :class:`ResNet`, like torchvision
    and PyTorch-Encoding, measures it at 64 planes. Both agree when
    ``base_channels == 64`` and ``groups > 1``.

    Args:
        owner: Class name for the error message.
        groups: Cardinality.
        base_width: mmseg's width per group at ``base_channels`` planes.
        base_channels: Planes of the first stage.

    Returns:
        The width per group at 64 planes giving the same 3x3 conv widths.

    Raises:
        ValueError: If ``base_channels`` does not divide ``64 * base_width`` (the
            widths would not be whole numbers at 64 planes).
    """
    if groups == 1:
        return WIDTH_REFERENCE
    if (WIDTH_REFERENCE * base_width) % base_channels:
        raise ValueError(
            f'{owner}: base_width={base_width} per group at base_channels={base_channels} planes has no whole '
            f'width at {WIDTH_REFERENCE} planes; base_channels must divide {WIDTH_REFERENCE * base_width}'
        )
    return WIDTH_REFERENCE * base_width // base_channels


@MODELS.register_module()
class ResNeXt(ResNet):
    """ResNeXt ("Aggregated Residual Transformations for Deep Neural Networks", Xie et al., 2017).

    The bottleneck's 3x3 conv has ``groups`` groups of ``base_width * planes /
    base_channels`` channels (mmseg's rule; ``base_width`` channels per group in the
    first stage): ``resnext50_32x4d`` is ``ResNeXt(50, groups=32, base_width=4)``,
    ``resnext101_32x8d`` is ``ResNeXt(101, groups=32, base_width=8)``. With
    ``groups=1`` the width is plain (``base_width`` is ignored), as in mmseg.

    The defaults give ResNeXt-32x4d; mmseg's ``ResNeXt`` defaults to ``groups=1``
    (a plain ResNet), so mmseg configs that rely on that default get grouped convs here.

    Args:
        depth: 50, 101 or 152 (bottleneck depths).
        groups: Cardinality.
        base_width: Channels per group at ``base_channels`` planes.
        base_channels: Base width of the first stage.
        **kwargs: The other arguments of :class:`ResNet`.
    """

    arch_settings = {k: v for k, v in ResNet.arch_settings.items() if k >= 50}

    def __init__(self, depth: int, *, groups: int = 32, base_width: int = 4, base_channels: int = 64, **kwargs) -> None:
        width = width_per_group_at_64(type(self).__name__, groups, base_width, base_channels)
        super().__init__(depth, groups=groups, base_width=width, base_channels=base_channels, **kwargs)
