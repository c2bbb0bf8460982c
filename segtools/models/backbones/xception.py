"""Xception-65: the aligned Xception of DeepLabV3+.

"Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation"
(Chen et al., 2018), after "Xception: Deep Learning with Depthwise Separable
Convolutions" (Chollet, 2017); PyTorch-Encoding's ``xception65``.
"""

from collections.abc import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import DepthwiseSeparableConvModule, build_activation_layer
from mmengine.model import BaseModule

from segtools.models.backbones.utils import check_frozen_stages, freeze_stages, set_norm_eval
from segtools.models.layers.conv_module import ConvModule
from segtools.registry import MODELS

# (output channels of the three separable convs, stride of the last one) of the
# entry-flow blocks; the middle flow repeats (728,) * 3 with an identity shortcut.
ENTRY_BLOCKS = (((128, 128, 128), 2), ((256, 256, 256), 2), ((728, 728, 728), 2))
MIDDLE_CHANNELS = 728
NUM_MIDDLE_BLOCKS = 16
EXIT_BLOCK = ((728, 1024, 1024), 2)
EXIT_CHANNELS = (1536, 1536, 2048)
STEM_CHANNELS = (32, 64)
DEFAULT_NORM = dict(type='BN')
DEFAULT_ACT = dict(type='ReLU')


class SeparableUnit(nn.Sequential):
    """Activation, then depthwise 3x3 conv, norm, pointwise 1x1 conv, norm.

    The activation never works in place: its input is also the block's shortcut.

    Args:
        in_channels: Input channels ``C_in``.
        out_channels: Output channels ``C_out``.
        stride: Stride of the depthwise conv.
        dilation: Dilation of the depthwise conv (padding keeps the size).
        conv_cfg: Conv config.
        norm_cfg: Norm config.
        act_cfg: Activation config.

    Shape:
        - Input: ``(N, C_in, H, W)``.
        - Output: ``(N, C_out, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        conv_cfg: dict | None = None,
        norm_cfg: dict,
        act_cfg: dict,
    ) -> None:
        act = build_activation_layer(act_cfg)
        if hasattr(act, 'inplace'):
            act.inplace = False
        conv = DepthwiseSeparableConvModule(
            in_channels,
            out_channels,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None,
        )
        super().__init__(act, conv)


class XceptionBlock(nn.Module):
    """Three separable units plus a shortcut (identity, or 1x1 conv + norm).

    Args:
        in_channels: Input channels ``C_in``.
        channels: Output channels of the three units; the last is ``C_out``.
        stride: Stride of the last unit (and of the shortcut conv).
        dilation: Dilation of every unit.
        conv_cfg: Conv config.
        norm_cfg: Norm config.
        act_cfg: Activation config.

    Shape:
        - Input: ``(N, C_in, H, W)``.
        - Output: ``(N, C_out, ceil(H / stride), ceil(W / stride))``, the residual
          sum before any activation.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        *,
        stride: int = 1,
        dilation: int = 1,
        conv_cfg: dict | None = None,
        norm_cfg: dict,
        act_cfg: dict,
    ) -> None:
        super().__init__()
        ins = (in_channels, *channels[:-1])
        strides = (1,) * (len(channels) - 1) + (stride,)
        self.units = nn.Sequential(
            *(
                SeparableUnit(
                    cin, cout, stride=s, dilation=dilation, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
                )
                for cin, cout, s in zip(ins, channels, strides, strict=True)
            )
        )
        self.shortcut = None
        if stride != 1 or in_channels != channels[-1]:
            # From the block's input before activation, as in DeepLab's reference
            # (the PyTorch port's in-place ReLU fed it the activated input).
            self.shortcut = ConvModule(
                in_channels, channels[-1], 1, stride=stride, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``(N, C_in, H, W)`` to ``(N, C_out, H', W')``."""
        shortcut = x if self.shortcut is None else self.shortcut(x)
        return self.units(x) + shortcut


def _validate_out_indices(out_indices: Sequence[int], num_stages: int) -> tuple[int, ...]:
    out_indices = tuple(out_indices)
    if (
        not out_indices
        or out_indices != tuple(sorted(set(out_indices)))
        or not set(out_indices) <= set(range(num_stages))
    ):
        raise ValueError(
            f'Xception65: out_indices must be increasing stage indices in [0, {num_stages}), got {out_indices}'
        )
    return out_indices


@MODELS.register_module()
class Xception65(BaseModule):
    """Aligned Xception-65 backbone (DeepLabV3+).

    Entry flow: two 3x3 convs (32 at stride 2, then 64) and three blocks (128,
    256, 728; stride 2 each); middle flow: 16 blocks of 728; exit flow: a block
    (728, 1024, 1024; stride 2) then separable convs to 1536, 1536 and 2048. Every
    separable conv is preceded by the activation and followed by a norm; the exit
    flow ends with the activation. ``output_stride`` 16 or 8 keeps the resolution
    from the exit block (16) or from the last entry block (8) on: that block keeps
    the current dilation and everything after it doubles it (PyTorch-Encoding's
    exit rates 1/2 at OS16, middle 2 and exit 2/4 at OS8).

    Four stages, for ``out_indices``:

    ====  ===========================================  ========  ===========
    i     module                                       channels  stride
    ====  ===========================================  ========  ===========
    0     entry block 1 (DeepLabV3+'s low-level input)  128       4
    1     entry block 2                                256       8
    2     entry block 3 + middle flow                  728       min(16, OS)
    3     exit flow                                    2048      OS
    ====  ===========================================  ========  ===========

    Stages 0-2 return residual sums before activation; stage 3 is activated.

    For ``frozen_stages`` the stem (the two entry convs) is stage 0 and table row
    ``i`` is stage ``i + 1`` (mmseg's numbering): ``frozen_stages=3`` freezes the
    stem, the entry flow and the middle flow.

    Args:
        in_channels: Input image channels.
        output_stride: 8, 16 or 32.
        out_indices: Stages whose outputs are returned, in increasing order.
        frozen_stages: Freeze the stem (0) and stages ``1..frozen_stages``
            (parameters without gradients, modules in eval mode, also after
            ``train()``); -1 for none, at most 4.
        norm_eval: Keep every batch norm in eval mode (frozen running statistics)
            in ``train()``.
        conv_cfg: Conv config.
        norm_cfg: Norm config.
        act_cfg: Activation config.
        init_cfg: Weight init config.

    Raises:
        ValueError: On an unsupported ``output_stride``, invalid ``out_indices`` or
            ``frozen_stages`` outside ``-1..4``.
    """

    num_stages = 4

    def __init__(
        self,
        *,
        in_channels: int = 3,
        output_stride: int = 16,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict = DEFAULT_NORM,
        act_cfg: dict = DEFAULT_ACT,
        init_cfg: dict | list[dict] | None = (
            dict(type='Kaiming', layer='Conv2d'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
        ),
    ) -> None:
        super().__init__(init_cfg=list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        if output_stride not in (8, 16, 32):
            raise ValueError(f'Xception65: output_stride must be 8, 16 or 32, got {output_stride}')
        self.output_stride = output_stride
        self.out_indices = _validate_out_indices(out_indices, self.num_stages)
        check_frozen_stages('Xception65', frozen_stages, self.num_stages)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)

        self.stem = nn.Sequential(
            ConvModule(in_channels, STEM_CHANNELS[0], 3, stride=2, padding=1, **cfgs),
            ConvModule(STEM_CHANNELS[0], STEM_CHANNELS[1], 3, padding=1, **cfgs),
        )
        stride, dilation = 2, 1

        def make_block(cin: int, channels: Sequence[int], block_stride: int) -> XceptionBlock:
            nonlocal stride, dilation
            block_dilation = dilation
            if stride * block_stride > output_stride:
                # Past the output stride: this block keeps the resolution and the
                # current rate, the layers after it double the rate.
                dilation *= block_stride
                block_stride = 1
            stride *= block_stride
            return XceptionBlock(cin, channels, stride=block_stride, dilation=block_dilation, **cfgs)

        cin, entry = STEM_CHANNELS[1], []
        for channels, block_stride in ENTRY_BLOCKS:
            entry.append(make_block(cin, channels, block_stride))
            cin = channels[-1]
        self.entry_flow = nn.ModuleList(entry)
        middle_stride = stride
        self.middle_flow = nn.Sequential(
            *(
                XceptionBlock(MIDDLE_CHANNELS, (MIDDLE_CHANNELS,) * 3, dilation=dilation, **cfgs)
                for _ in range(NUM_MIDDLE_BLOCKS)
            )
        )
        exit_block = make_block(MIDDLE_CHANNELS, *EXIT_BLOCK)
        ins = (EXIT_BLOCK[0][-1], *EXIT_CHANNELS[:-1])
        self.exit_flow = nn.Sequential(
            exit_block,
            *(SeparableUnit(i, o, dilation=dilation, **cfgs) for i, o in zip(ins, EXIT_CHANNELS, strict=True)),
            build_activation_layer(act_cfg),
        )
        stage_channels = (ENTRY_BLOCKS[0][0][-1], ENTRY_BLOCKS[1][0][-1], MIDDLE_CHANNELS, EXIT_CHANNELS[-1])
        stage_strides = (4, 8, middle_stride, stride)
        self.out_channels = tuple(stage_channels[i] for i in self.out_indices)
        self.out_strides = tuple(stage_strides[i] for i in self.out_indices)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        stages = [
            [self.stem],
            [self.entry_flow[0]],
            [self.entry_flow[1]],
            [self.entry_flow[2], self.middle_flow],
            [self.exit_flow],
        ]
        freeze_stages(stages, self.frozen_stages)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Runs the backbone.

        Args:
            x: Images, shape ``(N, in_channels, H, W)``.

        Returns:
            One tensor per ``out_indices`` entry ``i``, shape ``(N, out_channels[i],
            ceil(H / out_strides[i]), ceil(W / out_strides[i]))`` (each stride-2
            layer rounds up).
        """
        x = self.stem(x)
        stages = []
        x = self.entry_flow[0](x)
        stages.append(x)
        x = self.entry_flow[1](x)
        stages.append(x)
        x = self.middle_flow(self.entry_flow[2](x))
        stages.append(x)
        stages.append(self.exit_flow(x))
        return tuple(stages[i] for i in self.out_indices)

    def train(self, mode: bool = True) -> 'Xception65':
        """Sets train mode, keeping frozen stages and (with ``norm_eval``) batch norms in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_norm_eval(self)
        return self
