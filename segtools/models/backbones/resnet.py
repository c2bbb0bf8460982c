"""ResNet backbone with the options of ResNet-C/D, ResNeXt and ResNeSt.

"Deep Residual Learning for Image Recognition" (He et al., 2016). The variants
(``ResNetV1c``, ``ResNetV1d``, ``ResNeXt``, ``ResNeSt``) are thin subclasses that fix
defaults; the blocks live in :mod:`segtools.models.layers.res_layer`.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init
from torch import nn

from segtools.models.backbones.utils import (
    check_frozen_stages,
    check_no_dcn_or_plugins,
    freeze_stages,
    set_norm_eval,
)
from segtools.models.layers.res_layer import STYLES, BasicBlock, Bottleneck, ResLayer
from segtools.models.layers.rf_conv import RFConv2d
from segtools.registry import MODELS

# Output stride of the stem (stride-2 conv + stride-2 max pool).
STEM_STRIDE = 4


@MODELS.register_module()
class ResNet(BaseModule):
    """ResNet backbone (mmseg semantics for strides, dilations and freezing).

    Stem: a 7x7/2 conv, or with ``deep_stem`` three 3x3 convs (the first with
    stride 2; widths ``stem_channels // 2``, ``stem_channels // 2``,
    ``stem_channels``), then norm, ReLU and a 3x3/2 max pool. Stage ``i`` has
    ``base_channels * 2**i * expansion`` output channels and output stride
    ``4 * prod(strides[:i + 1])``.

    Every argument of mmseg's ``ResNet`` is accepted with mmseg's meaning; ``dcn``,
    ``stage_with_dcn`` and ``plugins`` only with their empty defaults (segtools has
    no deformable conv and no plugin layers). Differences from mmseg: the default
    ``zero_init_residual`` (False here, True in mmseg; here it also applies with a
    non-pretrained ``init_cfg``), and outputs follow the order of ``out_indices``
    (mmseg returns them in stage order).

    Output stride 8 as in PyTorch-Encoding (``dilated=True``): ``strides=(1, 2, 1,
    1)``, ``dilations=(1, 1, 2, 4)``, ``contract_dilation=True`` (its first blocks
    of the d=2 and d=4 stages use dilations 1 and 2). Output stride 16:
    ``strides=(1, 2, 2, 1)``, ``dilations=(1, 1, 1, 2)``.

    Args:
        depth: 18, 34, 50, 101 or 152 (see ``arch_settings``).
        in_channels: Input image channels.
        stem_channels: Channels the stem outputs.
        base_channels: Base width of the first stage.
        num_stages: Number of stages (1 to 4).
        strides: Stride of each stage.
        dilations: Dilation of each stage.
        out_indices: Stages whose outputs are returned, in order.
        style: Where a Bottleneck puts its stride: ``'pytorch'`` on the 3x3 conv,
            ``'caffe'`` on the first 1x1 conv (BasicBlock is unaffected).
        deep_stem: Three 3x3 convs instead of the 7x7 conv (ResNet-C).
        avg_down: Average-pool shortcut projections (ResNet-D).
        frozen_stages: Freeze the stem (0) and stages ``1..frozen_stages``
            (parameters without gradients, modules in eval mode, also after
            ``train()``); -1 for none, at most ``num_stages``.
        conv_cfg: Conv config.
        norm_cfg: Norm config.
        norm_eval: Keep every batch norm in eval mode (frozen statistics) in
            ``train()``.
        dcn: mmseg's deformable conv config; only ``None``.
        stage_with_dcn: mmseg's per-stage deformable conv switches; only all False.
        plugins: mmseg's block plugins; only ``None`` (or empty).
        contract_dilation: Halve the dilation of the first block of a dilated stage.
        multi_grid: Dilation of each block of the last stage (absolute rates, as
            in mmseg); length = number of blocks of that stage.
        with_cp: Gradient checkpointing of every residual block while training
            (saves memory, costs a second forward of each block in backward).
        groups: Cardinality of the 3x3 convs (ResNeXt).
        base_width: Width per group of the 3x3 convs at 64 planes (ResNeXt).
        radix: Split-attention splits (ResNeSt); 0 for plain convs.
        reduction_factor: Reduction of the split-attention MLP.
        avd: Average-pool downsampling inside the first block of every stage after
            the first (PyTorch-Encoding's ResNeSt), also when dilation replaces the
            stride (then a stride-1 3x3 pool).
        avd_first: Pool before the 3x3 conv rather than after it.
        avg_down_stride: mmseg's ResNeSt option: only blocks whose 3x3 conv has a
            stride (``style='pytorch'``, stride > 1) move it to a 3x3 average pool;
            exclusive with ``avd``.
        rectified_conv: Use ``RFConv2d`` for the padded stem and 3x3 convs.
        rectify_avg: ``average_mode`` of ``RFConv2d``.
        dropblock_prob: DropBlock probability in the last two stages; 0 for none.
        final_drop: Dropout before the classifier.
        zero_init_residual: Zero-initialise the last norm of every block in
            ``init_weights`` unless pretrained (PyTorch-Encoding's ``last_gamma``;
            mmseg defaults to True).
        num_classes: With ``> 0``, a global pool + linear classifier on the last
            stage and ``forward`` returns logits (for ImageNet variants).
        pretrained: Checkpoint to load in ``init_weights`` (exclusive with
            ``init_cfg``).
        init_cfg: mmengine init config; defaults to Kaiming convs and unit norms.
    """

    arch_settings: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        depth: int,
        *,
        in_channels: int = 3,
        stem_channels: int = 64,
        base_channels: int = 64,
        num_stages: int = 4,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        style: str = 'pytorch',
        deep_stem: bool = False,
        avg_down: bool = False,
        frozen_stages: int = -1,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        norm_eval: bool = False,
        dcn: dict | None = None,
        stage_with_dcn: Sequence[bool] = (False, False, False, False),
        plugins: Sequence[dict] | None = None,
        contract_dilation: bool = False,
        multi_grid: Sequence[int] | None = None,
        with_cp: bool = False,
        groups: int = 1,
        base_width: int = 64,
        radix: int = 0,
        reduction_factor: int = 4,
        avd: bool = False,
        avd_first: bool = False,
        avg_down_stride: bool = False,
        rectified_conv: bool = False,
        rectify_avg: bool = False,
        dropblock_prob: float = 0.0,
        final_drop: float = 0.0,
        zero_init_residual: bool = False,
        num_classes: int = 0,
        pretrained: str | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        name = type(self).__name__
        if pretrained is not None and not isinstance(pretrained, str):
            raise TypeError(f'{name}: pretrained must be a checkpoint path (str) or None, got {pretrained!r}')
        if pretrained is not None and init_cfg is not None:
            raise ValueError(f'{name}: give pretrained or init_cfg, not both')
        if pretrained is not None:
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
                dict(type='Constant', val=1, bias=0, layer=['_BatchNorm', 'GroupNorm']),
            ]
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise ValueError(f'{name}: depth must be one of {sorted(self.arch_settings)}, got {depth}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'{name}: num_stages must be in 1..4, got {num_stages}')
        if len(strides) < num_stages or len(dilations) < num_stages:
            raise ValueError(
                f'{name}: strides {tuple(strides)} and dilations {tuple(dilations)} need {num_stages} entries'
            )
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'{name}: out_indices {tuple(out_indices)} must be non-empty and in 0..{num_stages - 1}')
        check_frozen_stages(name, frozen_stages, num_stages)
        check_no_dcn_or_plugins(name, dcn, stage_with_dcn, plugins)
        _check_block_options(name, style, avd, avg_down_stride, with_cp, dropblock_prob)
        block, stage_blocks = self.arch_settings[depth]
        stage_blocks = stage_blocks[:num_stages]
        bottleneck_only = dict(
            groups=groups != 1,
            base_width=base_width != 64,
            radix=radix > 0,
            avd=avd,
            avg_down_stride=avg_down_stride,
            dropblock_prob=dropblock_prob > 0,
            rectified_conv=rectified_conv,
        )
        unsupported = [key for key, used in bottleneck_only.items() if used]
        if block is BasicBlock and unsupported:
            raise ValueError(f'{name}: depth {depth} uses BasicBlock, which does not support {unsupported}')
        if multi_grid is not None and len(multi_grid) != stage_blocks[-1]:
            raise ValueError(f'{name}: multi_grid {tuple(multi_grid)} needs {stage_blocks[-1]} entries (last stage)')

        norm_cfg = dict(type='BN', requires_grad=True) if norm_cfg is None else norm_cfg
        self.depth = depth
        self.deep_stem = deep_stem
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual
        self.out_indices = tuple(out_indices)
        # Rectification only changes padded convs; the 1x1 convs stay plain.
        spatial_conv_cfg = dict(type=RFConv2d, average_mode=rectify_avg) if rectified_conv else conv_cfg

        self._make_stem(in_channels, stem_channels, spatial_conv_cfg, norm_cfg)
        block_kwargs: dict = dict(with_cp=with_cp)
        if block is Bottleneck:
            block_kwargs.update(
                conv3x3_cfg=spatial_conv_cfg,
                style=style,
                groups=groups,
                base_width=base_width,
                radix=radix,
                reduction_factor=reduction_factor,
                avd_first=avd_first,
            )
        self.res_layers: list[str] = []
        channels = stem_channels
        stage_channels, stage_strides = [], []
        total_stride = STEM_STRIDE
        for i, num_blocks in enumerate(stage_blocks):
            stride, dilation = strides[i], dilations[i]
            extra = dict(dropblock_prob=dropblock_prob) if dropblock_prob > 0 and i >= 2 else {}
            # avd pools in every later stage (PyTorch-Encoding); avg_down_stride only where
            # the 3x3 conv would carry a stride (mmseg).
            stage_avd = (avd and (stride > 1 or i > 0)) or (avg_down_stride and stride > 1 and style == 'pytorch')
            layer = ResLayer(
                block,
                num_blocks,
                channels,
                base_channels * 2**i,
                stride=stride,
                dilation=dilation,
                avg_down=avg_down,
                contract_dilation=contract_dilation,
                multi_grid=multi_grid if i == num_stages - 1 else None,
                avd=stage_avd,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                **block_kwargs,
                **extra,
            )
            layer_name = f'layer{i + 1}'
            self.add_module(layer_name, layer)
            self.res_layers.append(layer_name)
            channels = layer.out_channels
            total_stride *= stride
            stage_channels.append(channels)
            stage_strides.append(total_stride)
        self.out_channels = tuple(stage_channels[i] for i in self.out_indices)
        self.out_strides = tuple(stage_strides[i] for i in self.out_indices)

        self.num_classes = num_classes
        if num_classes > 0:
            self.drop = nn.Dropout(final_drop) if final_drop > 0 else None
            self.fc = nn.Linear(channels, num_classes)
        self._freeze_stages()

    def _make_stem(self, in_channels: int, stem_channels: int, conv_cfg: dict | None, norm_cfg: dict) -> None:
        if self.deep_stem:
            mid = stem_channels // 2
            layers: list[nn.Module] = []
            for j, (c_in, c_out) in enumerate(((in_channels, mid), (mid, mid), (mid, stem_channels))):
                layers.append(
                    build_conv_layer(conv_cfg, c_in, c_out, 3, stride=2 if j == 0 else 1, padding=1, bias=False)
                )
                layers.append(build_norm_layer(norm_cfg, c_out)[1])
                layers.append(nn.ReLU(inplace=True))
            self.stem = nn.Sequential(*layers)
        else:
            self.conv1 = build_conv_layer(conv_cfg, in_channels, stem_channels, 7, stride=2, padding=3, bias=False)
            self.norm1_name, norm1 = build_norm_layer(norm_cfg, stem_channels, postfix=1)
            self.add_module(self.norm1_name, norm1)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def _freeze_stages(self) -> None:
        stem = [self.stem] if self.deep_stem else [self.conv1, self.norm1]
        freeze_stages([stem] + [[getattr(self, name)] for name in self.res_layers], self.frozen_stages)

    def init_weights(self) -> None:
        """Applies ``init_cfg``, then zero-initialises the residual norms unless pretrained."""
        super().init_weights()
        pretrained = isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'
        if self.zero_init_residual and not pretrained:
            for m in self.modules():
                if isinstance(m, BasicBlock | Bottleneck):
                    constant_init(m.last_norm, 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...] | torch.Tensor:
        """Extracts features.

        Args:
            x: Images, shape ``(N, C_in, H, W)``.

        Returns:
            One tensor per ``out_indices`` entry, shape ``(N, out_channels[i],
            H / out_strides[i], W / out_strides[i])`` (sizes rounded up); with
            ``num_classes > 0`` instead logits of shape ``(N, num_classes)``.
        """
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = F.relu(self.norm1(self.conv1(x)), inplace=True)
        x = self.maxpool(x)
        feats = []
        for name in self.res_layers:
            x = getattr(self, name)(x)
            feats.append(x)
        if self.num_classes > 0:
            x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
            if self.drop is not None:
                x = self.drop(x)
            return self.fc(x)
        return tuple(feats[i] for i in self.out_indices)

    def train(self, mode: bool = True) -> 'ResNet':
        """Sets train mode, keeping frozen stages and (with ``norm_eval``) batch norms in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_norm_eval(self)
        return self


def _check_block_options(
    name: str, style: str, avd: bool, avg_down_stride: bool, with_cp: bool, dropblock_prob: float
) -> None:
    """Refuses unknown styles and the block options that contradict each other."""
    if style not in STYLES:
        raise ValueError(
            f"{name}: style must be 'pytorch' (stride on the 3x3 conv) or 'caffe' (on the 1x1 conv), got {style!r}"
        )
    if avd and avg_down_stride:
        raise ValueError(f'{name}: give avd (PyTorch-Encoding) or avg_down_stride (mmseg), not both')
    if avd and style == 'caffe':
        raise ValueError(
            f"{name}: avd moves the 3x3 conv's stride to a pool, but style='caffe' puts the stride on the "
            "first 1x1 conv; use style='pytorch', or avg_down_stride (no pool in caffe style, as mmseg)"
        )
    if with_cp and dropblock_prob > 0:
        raise ValueError(
            f"{name}: with_cp recomputes each block in backward, which would advance DropBlock's "
            'drop-probability schedule twice per step; use with_cp or dropblock_prob, not both'
        )
