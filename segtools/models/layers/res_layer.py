"""Residual blocks and the stage builder shared by the ResNet family and ResNeSt.

"Deep Residual Learning for Image Recognition" (He et al., 2016), with the options
of ResNeXt (grouped 3x3 conv, Xie et al., 2017), ResNet-D (average-pool shortcut,
He et al., "Bag of Tricks", 2019) and ResNeSt (split attention, average-pool
downsampling in the block, rectified conv and DropBlock, Zhang et al., 2020).

Convs and norms are built with ``build_conv_layer``/``build_norm_layer`` into
attributes named like torchvision's (``conv1``, ``bn1``, ..., ``downsample.0``)
rather than wrapped in ``ConvModule``, so ImageNet checkpoints of torchvision,
PyTorch-Encoding and mmseg load key by key.
"""

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from torch import nn
from torch.utils.checkpoint import checkpoint

from .drop_block import DropBlock2D
from .splat_conv import SplAtConv2d
from .sync_bn import norm_relu

# ResNeSt's DropBlock size.
DROPBLOCK_SIZE = 3
# Where a Bottleneck puts its stride: the 3x3 conv ('pytorch') or the first 1x1 conv ('caffe').
STYLES = ('pytorch', 'caffe')


def maybe_checkpoint(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, enabled: bool) -> torch.Tensor:
    """Runs ``forward(x)``, through activation checkpointing when ``enabled`` and ``x`` requires grad.

    Checkpointing keeps only the block's input and recomputes its activations in the
    backward pass (``torch.utils.checkpoint``, non-reentrant, RNG state restored), so
    outputs and gradients are those of the plain call. The recomputation runs batch
    norms in training mode once more, so their running statistics see each batch
    twice, as with mmseg's ``with_cp``.
    """
    if enabled and x.requires_grad:
        return checkpoint(forward, x, use_reentrant=False)
    return forward(x)


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity (or projected) shortcut; ResNet-18/34.

    As in mmseg (and mmdet), only the first conv is dilated: the second keeps
    dilation 1, so mmseg's dilated ResNet-18/34 weights compute the same features.

    Args:
        in_channels: Input channels ``C_in``.
        planes: Output channels ``C`` (``expansion == 1``).
        stride: Stride of the first conv.
        dilation: Dilation (and padding) of the first conv.
        downsample: Shortcut projection, or ``None`` for the identity.
        with_cp: Checkpoint the block while training (see :func:`maybe_checkpoint`).
        conv_cfg: Config of the 3x3 convs.
        norm_cfg: Norm config.

    Shape:
        - Input: ``(N, C_in, H, W)``.
        - Output: ``(N, C, ceil(H / stride), ceil(W / stride))``.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        planes: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        with_cp: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        self.with_cp = with_cp
        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False
        )
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, padding=1, bias=False)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.downsample = downsample

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @property
    def last_norm(self) -> nn.Module:
        """The norm before the residual sum (zero-initialised by ``zero_init_residual``)."""
        return self.norm2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return maybe_checkpoint(self._forward, x, self.with_cp and self.training)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = norm_relu(self.norm1, self.conv1(x))
        out = self.norm2(self.conv2(out))
        return F.relu(out + identity, inplace=True)


class Bottleneck(nn.Module):
    """1x1 - 3x3 - 1x1 bottleneck; ResNet-50+, ResNeXt and ResNeSt.

    The 3x3 conv has ``width = int(planes * base_width / 64) * groups`` channels
    (torchvision's and PyTorch-Encoding's rule; ``width == planes`` for a plain
    ResNet). With ``radix > 0`` it is a :class:`SplAtConv2d` (which carries its own
    norm), else a conv + norm. The block's stride sits on the 3x3 conv
    (``style='pytorch'``) or on the first 1x1 conv (``style='caffe'``, mmseg's
    meaning). With ``avd`` the 3x3 conv's stride moves to a 3x3 average pool after
    it (before it with ``avd_first``).

    Args:
        in_channels: Input channels ``C_in``.
        planes: Base channels; the output has ``C = 4 * planes``.
        stride: Stride of the block (the 3x3 conv's, the first 1x1 conv's with
            ``style='caffe'``, or the pool's with ``avd``).
        dilation: Dilation (and padding) of the 3x3 conv.
        downsample: Shortcut projection, or ``None`` for the identity.
        style: ``'pytorch'`` or ``'caffe'``: where the stride sits.
        groups: Cardinality of the 3x3 conv.
        base_width: Width per group at ``planes == 64``.
        radix: Splits of the split-attention conv; 0 for a plain conv.
        reduction_factor: Reduction of the split-attention MLP.
        avd: Downsample with a 3x3 average pool instead of the conv's stride.
        avd_first: Pool before the 3x3 conv rather than after it.
        dropblock_prob: DropBlock after each norm; 0 for none.
        with_cp: Checkpoint the block while training (see :func:`maybe_checkpoint`).
        conv_cfg: Config of the 1x1 convs.
        conv3x3_cfg: Config of the padded 3x3 conv (e.g. ``RFConv2d``); defaults to
            ``conv_cfg``.
        norm_cfg: Norm config.

    Shape:
        - Input: ``(N, C_in, H, W)``.
        - Output: ``(N, 4 * planes, ceil(H / stride), ceil(W / stride))``.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        style: str = 'pytorch',
        groups: int = 1,
        base_width: int = 64,
        radix: int = 0,
        reduction_factor: int = 4,
        avd: bool = False,
        avd_first: bool = False,
        dropblock_prob: float = 0.0,
        with_cp: bool = False,
        conv_cfg: dict | None = None,
        conv3x3_cfg: dict | None = None,
        norm_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if style not in STYLES:
            raise ValueError(f'Bottleneck: style must be one of {STYLES}, got {style!r}')
        if avd and style == 'caffe':
            raise ValueError(
                "Bottleneck: avd moves the 3x3 conv's stride to a pool, but style='caffe' puts the stride "
                'on the first 1x1 conv'
            )
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        conv3x3_cfg = conv_cfg if conv3x3_cfg is None else conv3x3_cfg
        width = int(planes * base_width / 64) * groups
        out_channels = planes * self.expansion
        self.radix = radix
        self.avd_first = avd_first
        self.dropblock_prob = dropblock_prob
        self.with_cp = with_cp

        conv1_stride = stride if style == 'caffe' else 1
        self.conv1 = build_conv_layer(conv_cfg, in_channels, width, 1, stride=conv1_stride, bias=False)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, width, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.avd_layer = nn.AvgPool2d(3, stride, padding=1) if avd else None
        conv2_stride = 1 if avd or style == 'caffe' else stride
        if radix > 0:
            self.conv2 = SplAtConv2d(
                width,
                width,
                3,
                stride=conv2_stride,
                padding=dilation,
                dilation=dilation,
                groups=groups,
                bias=False,
                radix=radix,
                reduction_factor=reduction_factor,
                conv_cfg=conv3x3_cfg,
                norm_cfg=norm_cfg,
                dropblock_prob=dropblock_prob,
            )
            self.norm2_name = None
        else:
            self.conv2 = build_conv_layer(
                conv3x3_cfg,
                width,
                width,
                3,
                stride=conv2_stride,
                padding=dilation,
                dilation=dilation,
                groups=groups,
                bias=False,
            )
            self.norm2_name, norm2 = build_norm_layer(norm_cfg, width, postfix=2)
            self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(conv_cfg, width, out_channels, 1, bias=False)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, out_channels, postfix=3)
        self.add_module(self.norm3_name, norm3)
        self.downsample = downsample
        # Inside the split-attention conv when radix > 0, hence no second one here then.
        use_db = dropblock_prob > 0
        self.dropblock1 = DropBlock2D(dropblock_prob, DROPBLOCK_SIZE) if use_db else None
        self.dropblock2 = DropBlock2D(dropblock_prob, DROPBLOCK_SIZE) if use_db and radix == 0 else None
        self.dropblock3 = DropBlock2D(dropblock_prob, DROPBLOCK_SIZE) if use_db else None

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module | None:
        return None if self.norm2_name is None else getattr(self, self.norm2_name)

    @property
    def norm3(self) -> nn.Module:
        return getattr(self, self.norm3_name)

    @property
    def last_norm(self) -> nn.Module:
        """The norm before the residual sum (zero-initialised by ``zero_init_residual``)."""
        return self.norm3

    @staticmethod
    def _maybe(layer: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
        return x if layer is None else layer(x)

    @staticmethod
    def _norm_relu(norm: nn.Module, dropblock: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
        """``relu(dropblock(norm(x)))``; norm and ReLU fused when there is no DropBlock between them."""
        if dropblock is None:
            return norm_relu(norm, x)
        return F.relu(dropblock(norm(x)), inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return maybe_checkpoint(self._forward, x, self.with_cp and self.training)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self._norm_relu(self.norm1, self.dropblock1, self.conv1(x))
        if self.avd_first:
            out = self._maybe(self.avd_layer, out)
        out = self.conv2(out)
        if self.norm2_name is not None:
            out = self._norm_relu(self.norm2, self.dropblock2, out)
        if not self.avd_first:
            out = self._maybe(self.avd_layer, out)
        out = self._maybe(self.dropblock3, self.norm3(self.conv3(out)))
        return F.relu(out + identity, inplace=True)


class ResLayer(nn.Sequential):
    """One stage: ``num_blocks`` residual blocks, the first changing shape.

    The first block carries the stride and, when the shape changes, a shortcut
    projection: a 1x1 conv + norm, or with ``avg_down`` (ResNet-D) an average pool
    carrying the stride followed by a stride-1 1x1 conv + norm. The pool is kept
    even when its stride is 1 (a dilated stage) so state-dict keys do not depend on
    the output stride.

    Dilation follows mmseg: every block uses ``dilation``, except that with
    ``contract_dilation`` the first block of a dilated stage uses ``dilation // 2``
    (PyTorch-Encoding's output-stride-8 layout: 1 then 2 in the d=2 stage, 2 then
    4 in the d=4 stage), and ``multi_grid`` gives every block's dilation explicitly.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        num_blocks: Number of blocks.
        in_channels: Input channels ``C_in``.
        planes: Base channels; the stage outputs ``planes * block.expansion``.
        stride: Stride of the first block.
        dilation: Dilation of the stage.
        avg_down: Average-pool shortcut (ResNet-D).
        contract_dilation: Halve the first block's dilation when ``dilation > 1``.
        multi_grid: Dilation of each block (overrides ``dilation`` and
            ``contract_dilation``); length ``num_blocks``.
        avd: Average-pool downsampling (``Bottleneck`` ``avd``) in the first block.
        conv_cfg: Conv config of the blocks and the shortcut.
        norm_cfg: Norm config.
        **block_kwargs: Further arguments of every block (e.g. ``with_cp``,
            ``style``, ``groups``, ``radix``, ``conv3x3_cfg``); the block rejects
            unknown ones.

    Shape:
        - Input: ``(N, C_in, H, W)``.
        - Output: ``(N, planes * expansion, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        num_blocks: int,
        in_channels: int,
        planes: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        avg_down: bool = False,
        contract_dilation: bool = False,
        multi_grid: Sequence[int] | None = None,
        avd: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        **block_kwargs,
    ) -> None:
        if num_blocks < 1:
            raise ValueError(f'ResLayer: num_blocks must be positive, got {num_blocks}')
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        if multi_grid is None:
            first_dilation = dilation // 2 if contract_dilation and dilation > 1 else dilation
            block_dilations = [first_dilation] + [dilation] * (num_blocks - 1)
        else:
            if len(multi_grid) != num_blocks:
                raise ValueError(
                    f'ResLayer: multi_grid has {len(multi_grid)} entries for {num_blocks} blocks: {tuple(multi_grid)}'
                )
            block_dilations = list(multi_grid)

        out_channels = planes * block.expansion
        downsample = None
        if stride != 1 or in_channels != out_channels:
            layers: list[nn.Module] = []
            if avg_down:
                layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
            layers.append(
                build_conv_layer(conv_cfg, in_channels, out_channels, 1, stride=1 if avg_down else stride, bias=False)
            )
            layers.append(build_norm_layer(norm_cfg, out_channels)[1])
            downsample = nn.Sequential(*layers)

        extra = dict(avd=avd) if avd else {}
        blocks = [
            block(
                in_channels,
                planes,
                stride=stride,
                dilation=block_dilations[0],
                downsample=downsample,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                **extra,
                **block_kwargs,
            )
        ]
        for d in block_dilations[1:]:
            blocks.append(block(out_channels, planes, dilation=d, conv_cfg=conv_cfg, norm_cfg=norm_cfg, **block_kwargs))
        super().__init__(*blocks)
        self.out_channels = out_channels

    def __getitem__(self, idx: int | slice) -> nn.Module:
        # nn.Sequential rebuilds slices with self.__class__, whose constructor needs the
        # stage arguments; a slice of blocks is a plain Sequential.
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)
