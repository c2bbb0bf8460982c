"""ResNeSt backbone: ResNet-D with split-attention bottlenecks."""

from segtools.models.layers.res_layer import Bottleneck
from segtools.registry import MODELS

from .resnet import ResNet
from .resnext import width_per_group_at_64


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

    mmseg's arguments are accepted with mmseg's meaning: ``base_width`` (per group
    at ``base_channels`` planes, ignored with ``groups=1``), ``avg_down_stride``
    (pool only in the blocks that have a stride) and ``zero_init_residual``.
    Defaults that differ from mmseg's: ``stem_channels`` (mmseg: 64 at every
    depth), the pooled downsampling when neither ``avd`` nor ``avg_down_stride`` is
    given (here ``avd``: also a stride-1 pool in the first block of dilated stages;
    mmseg: ``avg_down_stride=True``, no pool there) and ``zero_init_residual``
    (mmseg: True).

    Args:
        depth: 50, 101, 152, 200 or 269.
        radix: Split-attention splits (1 gives a sigmoid gate).
        groups: Cardinality.
        bottleneck_width: Width per group at 64 planes (``base_width`` of
            :class:`ResNet`, PyTorch-Encoding's name).
        base_width: mmseg's width per group at ``base_channels`` planes, ignored
            with ``groups=1``; exclusive with ``bottleneck_width``.
        base_channels: Base width of the first stage.
        reduction_factor: Reduction of the split-attention MLP.
        stem_channels: Channels the deep stem outputs; ``None`` for 64 at depth 50
            and 128 otherwise.
        avd: Average-pool downsampling in the first block of every stage after the
            first (PyTorch-Encoding); ``None`` for True unless ``avg_down_stride``
            is given.
        avd_first: Pool before the 3x3 conv instead of after it.
        avg_down_stride: mmseg's pooled downsampling, only in the blocks with a
            stride; exclusive with ``avd``.
        rectified_conv: ``RFConv2d`` for the padded convs.
        rectify_avg: ``average_mode`` of ``RFConv2d``.
        dropblock_prob: DropBlock probability in the last two stages.
        final_drop: Dropout before the classifier (with ``num_classes > 0``).
        last_gamma: Zero-initialise the last norm of every block
            (``zero_init_residual`` of :class:`ResNet`).
        zero_init_residual: mmseg's name for ``last_gamma``; either turns it on.
        **kwargs: The other arguments of :class:`ResNet` (not ``deep_stem`` or
            ``avg_down``).
    """

    # ResNet's bottleneck depths, and the two deeper ones of ResNeSt.
    arch_settings = {
        **{depth: ResNet.arch_settings[depth] for depth in (50, 101, 152)},
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
        base_width: int | None = None,
        base_channels: int = 64,
        reduction_factor: int = 4,
        stem_channels: int | None = None,
        avd: bool | None = None,
        avd_first: bool = False,
        avg_down_stride: bool | None = None,
        rectified_conv: bool = False,
        rectify_avg: bool = False,
        dropblock_prob: float = 0.0,
        final_drop: float = 0.0,
        last_gamma: bool = False,
        zero_init_residual: bool = False,
        **kwargs,
    ) -> None:
        name = type(self).__name__
        if base_width is not None:
            if bottleneck_width != 64:
                raise ValueError(
                    f'{name}: give bottleneck_width (PyTorch-Encoding, at 64 planes) or base_width (mmseg, at '
                    'base_channels planes), not both'
                )
            bottleneck_width = width_per_group_at_64(name, groups, base_width, base_channels)
        if avg_down_stride is None:
            avd, avg_down_stride = (True if avd is None else avd), False
        elif avd is not None:
            raise ValueError(f'{name}: give avd (PyTorch-Encoding) or avg_down_stride (mmseg), not both')
        if stem_channels is None:
            stem_channels = 64 if depth == 50 else 128
        super().__init__(
            depth,
            radix=radix,
            groups=groups,
            base_width=bottleneck_width,
            base_channels=base_channels,
            reduction_factor=reduction_factor,
            stem_channels=stem_channels,
            deep_stem=True,
            avg_down=True,
            avd=avd,
            avd_first=avd_first,
            avg_down_stride=avg_down_stride,
            rectified_conv=rectified_conv,
            rectify_avg=rectify_avg,
            dropblock_prob=dropblock_prob,
            final_drop=final_drop,
            zero_init_residual=last_gamma or zero_init_residual,
            **kwargs,
        )
