"""WideResNet-38/50: the pre-activation "model A2" of Wu et al. with in-place ABN.

"Wider or Deeper: Revisiting the ResNet Model for Visual Recognition" (Wu, Shen and
van den Hengel, 2019), trained with "In-Place Activated BatchNorm for Memory-Optimized
Training of DNNs" (Rota Bulo, Porzi and Kontschieder, 2018), as PyTorch-Encoding's
``wideresnet38``/``wideresnet50``. Module names follow PyTorch-Encoding's (``mod1``,
``pool2``, ``mod2.0.bn1``, ``mod2.0.downsample.0``, ..., ``bn_out``) so that its
state dicts map key by key.
"""

from collections.abc import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.model import BaseModule

from segtools.models.backbones.utils import check_frozen_stages, freeze_stages, set_norm_eval
from segtools.registry import MODELS

# Channels inside the blocks of the six stages (mod2..mod7): two widths make a block of
# two 3x3 convs, three widths a 1x1-3x3-1x1 bottleneck.
WIDE_RESNET_CHANNELS = ((128, 128), (256, 256), (512, 512), (512, 1024), (512, 1024, 2048), (1024, 2048, 4096))
ARCH_SETTINGS = {38: (3, 3, 6, 3, 1, 1), 50: (3, 3, 6, 6, 3, 1)}
# Stride of each stage's first block before dilation replaces it; a 3x3/2 max pool
# precedes the first two stages.
STAGE_STRIDES = (1, 1, 2, 2, 2, 1)
POOLED_STAGES = (0, 1)
IN_PLACE_ABN = dict(type='SyncBN', activation='leaky_relu', slope=0.01, inplace=True)


def _overwrites_input(norm: nn.Module) -> bool:
    """Whether ``norm`` writes its output into its input (in-place ABN)."""
    first = norm[0] if isinstance(norm, nn.Sequential) else norm
    return bool(getattr(first, 'inplace', False))


class PreActBlock(nn.Module):
    """Pre-activation residual block: ``out = F(norm_act(x)) + shortcut``.

    ``F`` is two 3x3 convs (``len(channels) == 2``) or a 1x1-3x3-1x1 bottleneck
    (``len(channels) == 3``), with a norm+activation before every conv. The shortcut
    is ``x`` itself, or a 1x1 conv of ``norm_act(x)`` when the shape changes.

    Args:
        in_channels: Input channels ``C_in``.
        channels: Output channels of each conv; the last is the block's output ``C_out``.
        stride: Stride of the first 3x3 conv.
        dilation: Dilation of the 3x3 convs.
        first_dilation: Dilation of the first 3x3 conv (the one that carries the
            stride): the previous stage's rate when this stage's stride was turned
            into dilation.
        dropout_ratio: Dropout before the last conv (0 for none).
        conv_cfg: Conv config for ``build_conv_layer``.
        norm_cfg: Norm config for ``build_norm_layer``.
        act_cfg: Activation after each norm, or ``None`` when the norm fuses it.

    Shape:
        - Input: ``(N, C_in, H, W)``; overwritten when the norm is in-place ABN.
        - Output: ``(N, C_out, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        *,
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        dropout_ratio: float = 0.0,
        conv_cfg: dict | None = None,
        norm_cfg: dict = IN_PLACE_ABN,
        act_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if len(channels) not in (2, 3):
            raise ValueError(f'PreActBlock: channels must have 2 or 3 entries, got {tuple(channels)}')
        first_dilation = dilation if first_dilation is None else first_dilation

        def norm_act(num_channels: int) -> nn.Module:
            norm = build_norm_layer(norm_cfg, num_channels)[1]
            return norm if act_cfg is None else nn.Sequential(norm, build_activation_layer(act_cfg))

        def conv(cin: int, cout: int, kernel: int, conv_stride: int = 1, conv_dilation: int = 1) -> nn.Module:
            padding = conv_dilation * (kernel - 1) // 2
            return build_conv_layer(
                conv_cfg, cin, cout, kernel, conv_stride, padding, dilation=conv_dilation, bias=False
            )

        self.bn1 = norm_act(in_channels)
        if len(channels) == 2:
            self.conv1 = conv(in_channels, channels[0], 3, stride, first_dilation)
            self.bn2 = norm_act(channels[0])
            self.conv2 = conv(channels[0], channels[1], 3, 1, dilation)
        else:
            # PyTorch-Encoding puts the stride on the 3x3 conv (ResNet v1b style).
            self.conv1 = conv(in_channels, channels[0], 1)
            self.bn2 = norm_act(channels[0])
            self.conv2 = conv(channels[0], channels[1], 3, stride, first_dilation)
            self.bn3 = norm_act(channels[1])
            self.conv3 = conv(channels[1], channels[2], 1)
        self.drop = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.downsample = None
        if stride != 1 or in_channels != channels[-1]:
            # A one-element Sequential keeps PyTorch-Encoding's key 'downsample.0.weight'.
            self.downsample = nn.Sequential(conv(in_channels, channels[-1], 1, stride))
        self.bottleneck = len(channels) == 3
        self.overwrites_input = _overwrites_input(self.bn1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``(N, C_in, H, W)`` to ``(N, C_out, H', W')``; may overwrite ``x``."""
        if self.downsample is not None:
            # x is not read again: in-place ABN may overwrite it.
            act = self.bn1(x)
            shortcut = self.downsample(act)
        else:
            # In-place ABN would overwrite x, which the identity shortcut still needs.
            shortcut = x.clone() if self.overwrites_input else x
            act = self.bn1(x)
        out = self.bn2(self.conv1(act))
        if self.bottleneck:
            out = self.bn3(self.conv2(out))
            out = self.conv3(self.drop(out))
        else:
            out = self.conv2(self.drop(out))
        return out + shortcut


@MODELS.register_module()
class WideResNet(BaseModule):
    """WideResNet-38/50 (model A2) backbone with in-place activated batch norm.

    "Wider or Deeper: Revisiting the ResNet Model for Visual Recognition" (Wu et al.).
    A 3x3 stem conv at stride 1, then six stages of pre-activation blocks (``mod2``
    to ``mod7``; 3x3/2 max pools before the first two) and a final norm+activation
    ``bn_out``. Every norm is in-place ABN by default: it normalises, applies
    leaky ReLU and writes the result into its input, so the blocks clone what they
    still need, and stage outputs returned to the caller are cloned too.

    Output ``i`` is stage ``i``'s raw residual sum (pre-activation, as
    PyTorch-Encoding's ``c3`` for the auxiliary head), except the last stage,
    which is returned after ``bn_out``. Nominal strides are 2, 4, 8, 16, 32, 32;
    ``output_stride`` turns the later strides into dilation (8: stages 3-5 dilated
    2, 4, 4, as PyTorch-Encoding's ``dilated=True``).

    Args:
        depth: 38 (blocks per stage 3, 3, 6, 3, 1, 1) or 50 (3, 3, 6, 6, 3, 1).
        in_channels: Input image channels.
        stem_channels: Output channels of the stem conv.
        stage_channels: Per stage, the output channels of each conv of its blocks
            (two entries: basic block, three: bottleneck). Default: the published
            widths, ending at 4096 (narrow copies keep tests cheap).
        dropout_ratios: Dropout inside the blocks of each stage (0.3 and 0.5 in the
            last two by default).
        output_stride: 8, 16 or 32.
        out_indices: Stages whose outputs are returned, in increasing order.
        frozen_stages: Freeze the stem ``mod1`` (0) and stages ``1..frozen_stages``
            (stage ``k`` is ``mod{k + 1}``; the last also owns ``bn_out``):
            parameters without gradients, modules in eval mode, also after
            ``train()``; -1 for none, at most 6.
        norm_eval: Keep every batch norm in eval mode (frozen running statistics)
            in ``train()``.
        conv_cfg: Conv config.
        norm_cfg: Norm config. The default is in-place ABN (needs the segtools
            scope, where 'SyncBN' is segtools' SyncBatchNorm).
        act_cfg: Activation after each norm, for norms that do not fuse one (e.g.
            ``norm_cfg=dict(type='BN'), act_cfg=dict(type='LeakyReLU',
            negative_slope=0.01)``); ``None`` when the norm activates itself.
        init_cfg: Weight init config.

    Raises:
        ValueError: On an unknown ``depth``/``output_stride``, malformed widths or
            indices, ``frozen_stages`` outside ``-1..6``, or a norm without
            activation while ``act_cfg`` is ``None``.
    """

    def __init__(
        self,
        depth: int = 38,
        *,
        in_channels: int = 3,
        stem_channels: int = 64,
        stage_channels: Sequence[Sequence[int]] = WIDE_RESNET_CHANNELS,
        dropout_ratios: Sequence[float] = (0.0, 0.0, 0.0, 0.0, 0.3, 0.5),
        output_stride: int = 8,
        out_indices: Sequence[int] = (3, 5),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict = IN_PLACE_ABN,
        act_cfg: dict | None = None,
        init_cfg: dict | list[dict] | None = (
            dict(type='Kaiming', layer='Conv2d'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
        ),
    ) -> None:
        super().__init__(init_cfg=list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        if depth not in ARCH_SETTINGS:
            raise ValueError(f'WideResNet: depth must be one of {sorted(ARCH_SETTINGS)}, got {depth}')
        if output_stride not in (8, 16, 32):
            raise ValueError(f'WideResNet: output_stride must be 8, 16 or 32, got {output_stride}')
        num_stages = len(ARCH_SETTINGS[depth])
        if len(stage_channels) != num_stages or len(dropout_ratios) != num_stages:
            raise ValueError(
                f'WideResNet: stage_channels and dropout_ratios need {num_stages} entries, '
                f'got {len(stage_channels)} and {len(dropout_ratios)}'
            )
        out_indices = tuple(out_indices)
        if (
            not out_indices
            or out_indices != tuple(sorted(set(out_indices)))
            or not set(out_indices) <= set(range(num_stages))
        ):
            raise ValueError(
                f'WideResNet: out_indices must be increasing stage indices in [0, {num_stages}), got {out_indices}'
            )
        check_frozen_stages('WideResNet', frozen_stages, num_stages)
        self.depth = depth
        self.output_stride = output_stride
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        self.mod1 = build_conv_layer(conv_cfg, in_channels, stem_channels, 3, 1, 1, bias=False)
        channels_in, stride, dilation = stem_channels, 1, 1
        stage_strides = []
        for i, (num_blocks, channels, ratio) in enumerate(
            zip(ARCH_SETTINGS[depth], stage_channels, dropout_ratios, strict=True)
        ):
            if i in POOLED_STAGES:
                self.add_module(f'pool{i + 2}', nn.MaxPool2d(3, stride=2, padding=1))
                stride *= 2
            block_stride, first_dilation = STAGE_STRIDES[i], dilation
            if block_stride > 1 and stride * block_stride > output_stride:
                # Past the output stride: keep the resolution and dilate instead. The
                # conv that would have carried the stride keeps the previous rate.
                dilation *= block_stride
                block_stride = 1
            stride *= block_stride
            blocks = [
                PreActBlock(
                    channels_in if b == 0 else channels[-1],
                    channels,
                    stride=block_stride if b == 0 else 1,
                    dilation=dilation,
                    first_dilation=first_dilation if b == 0 else dilation,
                    dropout_ratio=ratio,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                )
                for b in range(num_blocks)
            ]
            self.add_module(f'mod{i + 2}', nn.Sequential(*blocks))
            channels_in = channels[-1]
            stage_strides.append(stride)
        bn_out = build_norm_layer(norm_cfg, channels_in)[1]
        if act_cfg is None and getattr(bn_out, 'activation', 'identity') == 'identity':
            raise ValueError(
                'WideResNet: with act_cfg=None the norm must fuse an activation (e.g. '
                "dict(type='SyncBN', activation='leaky_relu', ...)); got norm_cfg="
                f'{norm_cfg}: set act_cfg for a plain norm'
            )
        self.bn_out = bn_out if act_cfg is None else nn.Sequential(bn_out, build_activation_layer(act_cfg))
        # A stage output is read by the caller after the next stage's first in-place
        # ABN would have overwritten it.
        self.clone_outputs = _overwrites_input(self.bn_out)
        self.out_channels = tuple(stage_channels[i][-1] for i in out_indices)
        self.out_strides = tuple(stage_strides[i] for i in out_indices)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        num_stages = len(ARCH_SETTINGS[self.depth])
        stages = [[self.mod1]] + [[getattr(self, f'mod{i + 2}')] for i in range(num_stages)]
        # bn_out turns the last stage's sum into its output: it belongs to that stage.
        stages[-1].append(self.bn_out)
        freeze_stages(stages, self.frozen_stages)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Runs the backbone.

        Args:
            x: Images, shape ``(N, in_channels, H, W)``.

        Returns:
            One tensor per ``out_indices`` entry ``i``, shape ``(N, out_channels[i],
            ceil(H / out_strides[i]), ceil(W / out_strides[i]))``.
        """
        x = self.mod1(x)
        outs = []
        last = len(ARCH_SETTINGS[self.depth]) - 1
        for i in range(last + 1):
            if i in POOLED_STAGES:
                x = getattr(self, f'pool{i + 2}')(x)
            x = getattr(self, f'mod{i + 2}')(x)
            if i == last:
                x = self.bn_out(x)
            if i in self.out_indices:
                outs.append(x.clone() if self.clone_outputs and i != last else x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'WideResNet':
        """Sets train mode, keeping frozen stages and (with ``norm_eval``) batch norms in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_norm_eval(self)
        return self
