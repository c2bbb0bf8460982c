"""FPN: feature pyramid network, with mmsegmentation's arguments and semantics.

"Feature Pyramid Networks for Object Detection" (Lin et al., 2017).
"""

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from segtools.models.layers.conv_module import ConvModule
from segtools.registry import MODELS

EXTRA_CONV_SOURCES = ('on_input', 'on_lateral', 'on_output')
DEFAULT_UPSAMPLE = dict(mode='nearest')
DEFAULT_INIT = dict(type='Xavier', layer='Conv2d', distribution='uniform')


def _default_in_strides(num_levels: int) -> tuple[int, ...]:
    """Strides of a standard 2x pyramid whose last level is at stride 32."""
    if not 1 <= num_levels <= 5:
        raise ValueError(f'FPN: cannot assume strides for {num_levels} inputs; pass in_strides')
    return tuple(2 ** (6 - num_levels + i) for i in range(num_levels))


@MODELS.register_module()
class FPN(BaseModule):
    """Feature pyramid: 1x1 laterals, top-down sum, 3x3 output convs, extra levels.

    Inputs ``start_level`` to ``end_level`` (exclusive) get a 1x1 lateral conv; from
    the coarsest down, each lateral adds the upsampled sum above it; a 3x3 conv
    makes each output. Levels beyond the inputs, up to ``num_outs``, are a 1x1/2 max
    pool of the last output or, with ``add_extra_convs``, 3x3/2 convs.

    Args:
        in_channels: Channels of every input level.
        out_channels: Channels of every output level (an int, as in mmseg; the
            ``out_channels`` attribute then lists one entry per output).
        num_outs: Number of output levels.
        start_level: First input level used.
        end_level: Input level where the pyramid stops (exclusive, mmseg's
            meaning); -1 uses all levels and allows extra ones, otherwise
            ``num_outs`` must be ``end_level - start_level``.
        add_extra_convs: ``False`` (max pool), ``True`` (= ``'on_input'``),
            ``'on_input'``, ``'on_lateral'`` or ``'on_output'``: the source of the
            first extra conv; later ones take the previous output.
        relu_before_extra_convs: Apply ReLU before every extra conv but the first.
        no_norm_on_lateral: Build the lateral convs without norm.
        in_strides: Stride of every input level; ``None`` assumes a standard 2x
            pyramid ending at stride 32 (``(4, 8, 16, 32)`` for four levels). The
            segmentor passes the backbone's ``out_strides``.
        conv_cfg: Conv config.
        norm_cfg: Norm config (``None``: convs with bias, no norm).
        act_cfg: Activation after every conv (``None``: linear, as mmseg).
        upsample_cfg: ``F.interpolate`` arguments of the top-down path; with a
            ``scale_factor`` it is used instead of the lower level's size.
        init_cfg: Weight init config.

    Attributes:
        out_channels: ``(out_channels,) * num_outs``.
        out_strides: The used levels' ``in_strides``, then twice the previous
            stride for each extra level.

    Raises:
        ValueError: Inconsistent levels, counts or ``add_extra_convs``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        num_outs: int,
        *,
        start_level: int = 0,
        end_level: int = -1,
        add_extra_convs: bool | str = False,
        relu_before_extra_convs: bool = False,
        no_norm_on_lateral: bool = False,
        in_strides: Sequence[int] | None = None,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        upsample_cfg: dict = DEFAULT_UPSAMPLE,
        init_cfg: dict | list[dict] | None = DEFAULT_INIT,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = tuple(in_channels)
        num_ins = len(in_channels)
        in_strides = _default_in_strides(num_ins) if in_strides is None else tuple(in_strides)
        if len(in_strides) != num_ins:
            raise ValueError(f'FPN: in_strides {in_strides} and in_channels {in_channels} differ in length')
        if end_level == -1:
            end_level = num_ins
            if not 0 <= start_level < num_ins or num_outs < num_ins - start_level:
                raise ValueError(
                    f'FPN: need 0 <= start_level < {num_ins} and num_outs >= {num_ins} - start_level, '
                    f'got start_level={start_level}, num_outs={num_outs}'
                )
        elif not 0 <= start_level < end_level <= num_ins or num_outs != end_level - start_level:
            raise ValueError(
                f'FPN: with end_level={end_level}, need 0 <= start_level < end_level <= {num_ins} and '
                f'num_outs == end_level - start_level, got start_level={start_level}, num_outs={num_outs}'
            )
        if add_extra_convs is True:
            add_extra_convs = 'on_input'
        if add_extra_convs is not False and add_extra_convs not in EXTRA_CONV_SOURCES:
            raise ValueError(
                f'FPN: add_extra_convs must be a bool or one of {EXTRA_CONV_SOURCES}, got {add_extra_convs!r}'
            )
        self.in_channels = in_channels
        self.num_outs = num_outs
        self.start_level = start_level
        self.end_level = end_level
        self.add_extra_convs = add_extra_convs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.upsample_cfg = dict(upsample_cfg)

        cfgs = dict(conv_cfg=conv_cfg, act_cfg=act_cfg, inplace=False)
        self.lateral_convs = nn.ModuleList(
            ConvModule(c, out_channels, 1, norm_cfg=None if no_norm_on_lateral else norm_cfg, **cfgs)
            for c in in_channels[start_level:end_level]
        )
        self.fpn_convs = nn.ModuleList(
            ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg, **cfgs)
            for _ in range(end_level - start_level)
        )
        num_extra = num_outs - (end_level - start_level)
        extra_in = in_channels[end_level - 1] if add_extra_convs == 'on_input' else out_channels
        self.extra_convs = nn.ModuleList()
        if add_extra_convs:
            self.extra_convs.extend(
                ConvModule(
                    extra_in if i == 0 else out_channels,
                    out_channels,
                    3,
                    stride=2,
                    padding=1,
                    norm_cfg=norm_cfg,
                    **cfgs,
                )
                for i in range(num_extra)
            )
        strides = list(in_strides[start_level:end_level])
        for _ in range(num_extra):
            strides.append(strides[-1] * 2)
        self.out_channels = (out_channels,) * num_outs
        self.out_strides = tuple(strides)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Builds the pyramid.

        Args:
            inputs: One ``(N, in_channels[i], H_i, W_i)`` tensor per level.

        Returns:
            ``num_outs`` tensors ``(N, out_channels, H_j, W_j)``: the used levels'
            sizes, then each extra level ``ceil`` of half the previous.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'FPN: expected {len(self.in_channels)} inputs (in_channels), got {len(inputs)}')
        laterals = [conv(inputs[self.start_level + i]) for i, conv in enumerate(self.lateral_convs)]
        for i in range(len(laterals) - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                up = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                up = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:], **self.upsample_cfg)
            # Out of place, so no tensor that autograd saved is modified.
            laterals[i - 1] = laterals[i - 1] + up
        outs = [conv(lateral) for conv, lateral in zip(self.fpn_convs, laterals, strict=True)]
        num_extra = self.num_outs - len(outs)
        if num_extra and not self.add_extra_convs:
            for _ in range(num_extra):
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        elif num_extra:
            source = {
                'on_input': inputs[self.end_level - 1],
                'on_lateral': laterals[-1],
                'on_output': outs[-1],
            }[self.add_extra_convs]
            outs.append(self.extra_convs[0](source))
            for conv in self.extra_convs[1:]:
                outs.append(conv(F.relu(outs[-1]) if self.relu_before_extra_convs else outs[-1]))
        return tuple(outs)
