"""ResNeSt backbone: ResNet-D with split-attention bottlenecks."""

from segtools.models.layers.res_layer import Bottleneck
from segtools.registry import MODELS

from .resnet import ResNet


@MODELS.register_module()
class ResNeSt(ResNet):
    """ResNeSt ("ResNeSt: Split-Attention Networks", Zhang et al., 2020).

    A deep-stem, average-pool-shortcut ResNet whose bottleneck 3x3 conv is a
    :class:`~segtools.models.layers.splat_conv.SplAtConv2d` and whose first block
    of every stage after the first downsamples with a 3x3 average pool (``avd``).
    Defaults give PyTorch-Encoding's ``resnest50/101/200/269``; ``avd_first=True``
    gives its ``resnest*_fast`` variants.

    ``stem_channels`` counts the channels the stem outputs, as everywhere in
    segtools: twice PyTorch-Encoding's ``stem_width`` (32 for ResNeSt-50, 64 for
    the deeper ones), hence the depth-dependent default of 64 or 128.

    Args:
        depth: 50, 101, 200 or 269.
        radix: Split-attention splits (1 gives a sigmoid gate).
        groups: Cardinality.
        bottleneck_width: Width per group at 64 planes (``base_width`` of
            :class:`ResNet`).
        reduction_factor: Reduction of the split-attention MLP.
        stem_channels: Channels the deep stem outputs; ``None`` for 64 at depth 50
            and 128 otherwise.
        avd: Average-pool downsampling inside the blocks.
        avd_first: Pool before the 3x3 conv instead of after it.
        rectified_conv: ``RFConv2d`` for the padded convs.
        rectify_avg: ``average_mode`` of ``RFConv2d``.
        dropblock_prob: DropBlock probability in the last two stages.
        final_drop: Dropout before the classifier (with ``num_classes > 0``).
        last_gamma: Zero-initialise the last norm of every block
            (``zero_init_residual`` of :class:`ResNet`).
        **kwargs: The other arguments of :class:`ResNet` (not ``deep_stem``,
            ``avg_down``, ``base_width`` or ``zero_init_residual``).
    """

    arch_settings = {
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        200: (Bottleneck, (3, 24, 36, 3)),
        269: (Bottleneck, (3, 30, 48, 8)),
    }

    def __init__(
        self,
        depth: int,
        *,
        radix: int = 2,
        groups: int = 1,
        bottleneck_width: int = 64,
        reduction_factor: int = 4,
        stem_channels: int | None = None,
        avd: bool = True,
        avd_first: bool = False,
        rectified_conv: bool = False,
        rectify_avg: bool = False,
        dropblock_prob: float = 0.0,
        final_drop: float = 0.0,
        last_gamma: bool = False,
        **kwargs,
    ) -> None:
        if stem_channels is None:
            stem_channels = 64 if depth == 50 else 128
        super().__init__(
            depth,
            radix=radix,
            groups=groups,
            base_width=bottleneck_width,
            reduction_factor=reduction_factor,
            stem_channels=stem_channels,
            deep_stem=True,
            avg_down=True,
            avd=avd,
            avd_first=avd_first,
            rectified_conv=rectified_conv,
            rectify_avg=rectify_avg,
            dropblock_prob=dropblock_prob,
            final_drop=final_drop,
            zero_init_residual=last_gamma,
            **kwargs,
        )
