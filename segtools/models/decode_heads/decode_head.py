"""The base class every decode head builds on: input selection, classifier, losses, prediction.

A head writes its features; :class:`BaseDecodeHead` turns them into losses. Outputs that only
the losses need (EncNet's class-presence logits, DANet's per-branch logits) come from
:meth:`BaseDecodeHead.forward_with_aux` and are supervised as the head's ``aux_losses`` declares.
"""

import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.utils.checkpoint import checkpoint

from segtools.constants import IGNORE_INDEX
from segtools.ops import has_upsampled_cross_entropy_kernel
from segtools.registry import MODELS, TASK_UTILS
from segtools.structures import SampleList

from ..losses.accuracy import accuracy, label_accuracy
from ..losses.cross_entropy_loss import CrossEntropyLoss
from ..losses.se_loss import SELoss, class_presence
from ..utils import add_prefix, resize

INPUT_TRANSFORMS = (None, 'resize_concat', 'multiple_select')
# How an auxiliary output is supervised (see BaseDecodeHead.aux_losses).
AUX_LOSS_KINDS = ('se', 'decode')
# Shared defaults, never mutated (configs are copied before use).
DEFAULT_LOSS = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
DEFAULT_SE_LOSS = dict(type='SELoss', loss_weight=0.2)
DEFAULT_INIT = dict(type='Normal', std=0.01, override=dict(name='conv_seg'))
DEFAULT_ACT = dict(type='ReLU')


class BaseDecodeHead(BaseModule, metaclass=ABCMeta):
    """Owns what every decode head shares: input selection, ``cls_seg``, losses, prediction.

    MMSegmentation's semantics and arguments. A subclass writes ``__init__`` and
    :meth:`forward` (features -> logits via :meth:`_transform_inputs` and :meth:`cls_seg`).
    A head with outputs that only its losses use also writes :meth:`forward_with_aux`
    (logits and ``{name: output}``; :meth:`forward` returns its logits) and declares in
    ``aux_losses`` how :meth:`loss` supervises each name:

    - ``'se'``: class-presence logits ``(N, num_classes)`` through the head's
      ``loss_se_decode`` (EncNet's SE loss, built by :meth:`_build_se_loss`), logged under
      that loss's name (``loss_se``);
    - ``'decode'``: logits ``(N, out_channels, H', W')`` through :meth:`loss_by_feat`, logged
      with the name as prefix (``pam.loss_ce``, ``pam.acc_seg``).

    No head overrides :meth:`loss`.

    Args:
        in_channels: Channels of the selected input(s): an int with
            ``input_transform=None``, else a sequence (one per ``in_index``).
        channels: Channels of the head's last feature map (input of ``conv_seg``).
        num_classes: Number of classes.
        out_channels: Output channels of ``conv_seg``; ``num_classes`` by default,
            or 1 for binary segmentation (``num_classes == 2``) with a sigmoid.
        threshold: Sigmoid threshold of binary segmentation (default 0.3).
        dropout_ratio: Dropout2d before ``conv_seg``.
        conv_cfg: Conv config of the head's ``ConvModule`` blocks.
        norm_cfg: Norm config of the head's ``ConvModule`` blocks.
        act_cfg: Activation config of the head's ``ConvModule`` blocks.
        in_index: Index (or indices) of the selected backbone/neck outputs.
        input_transform: ``None`` (one map), ``'resize_concat'`` (resize all to the
            first one and concatenate) or ``'multiple_select'`` (a list of maps).
        loss_decode: A loss config or a list of them; losses sharing a
            ``loss_name`` are summed.
        ignore_index: Label ignored by the losses and the accuracy (an int; mmseg's
            ``None`` for its masked BCE is refused).
        sampler: A pixel sampler config of ``TASK_UTILS`` (e.g. ``dict(type='OHEMPixelSampler',
            thresh=0.7, min_kept=100000)``), built with ``context=self``; its per-pixel
            weights multiply the decode losses.
        align_corners: ``align_corners`` of every bilinear resize.
        init_cfg: mmengine initialisation config.
    """

    #: Name of each auxiliary output of :meth:`forward_with_aux` -> one of :data:`AUX_LOSS_KINDS`.
    aux_losses: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        """Refuses, when the class is defined, an ``aux_losses`` that :meth:`loss` could not honour."""
        super().__init_subclass__(**kwargs)
        unknown = {name: kind for name, kind in cls.aux_losses.items() if kind not in AUX_LOSS_KINDS}
        if unknown:
            raise TypeError(f'{cls.__name__}.aux_losses: kinds must be one of {AUX_LOSS_KINDS}, got {unknown}')
        if cls.aux_losses and cls.forward_with_aux is BaseDecodeHead.forward_with_aux:
            raise TypeError(
                f'{cls.__name__} declares aux_losses {dict(cls.aux_losses)} but does not override forward_with_aux'
            )

    def __init__(
        self,
        in_channels: int | Sequence[int],
        channels: int,
        *,
        num_classes: int,
        out_channels: int | None = None,
        threshold: float | None = None,
        dropout_ratio: float = 0.1,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = DEFAULT_ACT,
        in_index: int | Sequence[int] = -1,
        input_transform: str | None = None,
        loss_decode: dict | Sequence[dict] = DEFAULT_LOSS,
        ignore_index: int = IGNORE_INDEX,
        sampler: dict | None = None,
        align_corners: bool = False,
        init_cfg: dict | list[dict] | None = DEFAULT_INIT,
    ) -> None:
        super().__init__(init_cfg)
        name = type(self).__name__
        self._init_inputs(in_channels, in_index, input_transform)
        self.channels = channels
        self.dropout_ratio = dropout_ratio
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.num_classes = num_classes

        if num_classes < 1:
            raise ValueError(f'{name}: num_classes must be >= 1, got {num_classes}')
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise ValueError(
                f'{name}: ignore_index must be an int label ({IGNORE_INDEX} by default), got {ignore_index!r}; '
                "MMSegmentation's None (for its masked BCE, use_mask=True) is not supported"
            )
        if out_channels is None:
            if num_classes == 2:
                warnings.warn(
                    f'{name}: num_classes=2 with out_channels=None uses a softmax over 2 channels; set '
                    'out_channels=1 for binary segmentation with a sigmoid',
                    stacklevel=2,
                )
            out_channels = num_classes
        if out_channels != num_classes and out_channels != 1:
            raise ValueError(
                f'{name}: out_channels must be num_classes ({num_classes}) or 1 (binary), got {out_channels}'
            )
        if out_channels == 1 and num_classes != 2:
            raise ValueError(f'{name}: out_channels=1 (binary) needs num_classes=2, got {num_classes}')
        if out_channels == 1 and threshold is None:
            threshold = 0.3
            warnings.warn(f'{name}: binary segmentation without threshold; using 0.3', stacklevel=2)
        self.out_channels = out_channels
        self.threshold = threshold

        loss_cfgs = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode)
        if not loss_cfgs or not all(isinstance(cfg, dict) for cfg in loss_cfgs):
            raise TypeError(f'{name}: loss_decode must be a dict or a non-empty list of dicts, got {loss_decode!r}')
        self.loss_decode = nn.ModuleList(MODELS.build(cfg) for cfg in loss_cfgs)
        # Not a module: a plain object that reads ignore_index and loss_decode from this head.
        self.sampler = TASK_UTILS.build(sampler, default_args=dict(context=self)) if sampler is not None else None

        self.conv_seg = nn.Conv2d(channels, self.out_channels, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

    def _init_inputs(
        self, in_channels: int | Sequence[int], in_index: int | Sequence[int], input_transform: str | None
    ) -> None:
        name = type(self).__name__
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f'{name}: input_transform must be one of {INPUT_TRANSFORMS}, got {input_transform!r}')
        if input_transform is None:
            if not isinstance(in_channels, int) or not isinstance(in_index, int):
                raise ValueError(
                    f'{name}: with input_transform=None, in_channels and in_index must be ints, got '
                    f'in_channels={in_channels!r}, in_index={in_index!r}'
                )
            self.in_channels = in_channels
        else:
            if isinstance(in_channels, int) or isinstance(in_index, int) or len(in_channels) != len(in_index):
                raise ValueError(
                    f'{name}: with input_transform={input_transform!r}, in_channels and in_index must be '
                    f'sequences of the same length, got in_channels={in_channels!r}, in_index={in_index!r}'
                )
            in_channels, in_index = list(in_channels), list(in_index)
            self.in_channels = sum(in_channels) if input_transform == 'resize_concat' else in_channels
        self.input_transform = input_transform
        self.in_index = in_index
        self._selected_channels = [in_channels] if input_transform is None else list(in_channels)

    def check_in_channels(self, available: Sequence[int], source: str, key: str) -> None:
        """Checks the selected inputs against what the backbone or neck produces.

        Args:
            available: ``out_channels`` of the backbone (or neck).
            source: ``'backbone'`` or ``'neck'``, for the message.
            key: The config key of this head (``'decode_head'``, ``'auxiliary_head[0]'``).

        Raises:
            ValueError: naming ``key``, the wrong value and the expected one.
        """
        indices = [self.in_index] if self.input_transform is None else self.in_index
        for i, (index, channels) in enumerate(zip(indices, self._selected_channels, strict=True)):
            where = f'{key}.in_channels' + ('' if self.input_transform is None else f'[{i}]')
            if not -len(available) <= index < len(available):
                raise ValueError(
                    f'{key}.in_index={index} is out of range: the {source} has {len(available)} outputs '
                    f'(out_channels={tuple(available)})'
                )
            if channels != available[index]:
                raise ValueError(
                    f'{where}={channels} does not match the {source}: its output {index} has '
                    f'{available[index]} channels (out_channels={tuple(available)}); set {where}={available[index]}'
                )

    def _transform_inputs(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        """Selects the head's input(s) from the backbone/neck outputs."""
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == 'multiple_select':
            return selected
        size = selected[0].shape[2:]
        return torch.cat([resize(x, size, align_corners=self.align_corners) for x in selected], dim=1)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Dropout, then the 1x1 classifier: ``(N, channels, H, W) -> (N, out_channels, H, W)``."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    @abstractmethod
    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone/neck outputs -> logits ``(N, out_channels, H', W')``."""

    def forward_with_aux(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The logits of :meth:`forward` and the auxiliary outputs that only the losses use.

        Overridden by the heads that declare ``aux_losses``; by default there are none.

        Returns:
            Logits ``(N, out_channels, H', W')`` and ``{name: output}``, each name a key of
            ``aux_losses`` (a head may leave out those its options switch off).
        """
        return self.forward(inputs), {}

    def loss(self, inputs: Sequence[torch.Tensor], batch_data_samples: SampleList, train_cfg: dict) -> dict:
        """Forward and losses: those of the logits, then those of each auxiliary output.

        Returns:
            ``{loss_name: value, 'acc_seg': value}`` of :meth:`loss_by_feat`, plus the keys of
            the auxiliary outputs (see ``aux_losses``); values under the same key are summed.
        """
        seg_logits, aux_outputs = self.forward_with_aux(inputs)
        losses = self.loss_by_feat(seg_logits, batch_data_samples)
        for name, output in aux_outputs.items():
            for key, value in self._aux_loss_by_feat(name, output, batch_data_samples).items():
                losses[key] = losses[key] + value if key in losses else value
        return losses

    def _aux_loss_by_feat(
        self, name: str, output: torch.Tensor, batch_data_samples: SampleList
    ) -> dict[str, torch.Tensor]:
        """The losses of the auxiliary output ``name``, as ``aux_losses`` declares them."""
        kind = self.aux_losses.get(name)
        if kind == 'se':
            return self._se_loss_by_feat(output, batch_data_samples)
        if kind == 'decode':
            return add_prefix(self.loss_by_feat(output, batch_data_samples), name)
        raise KeyError(
            f'{type(self).__name__}.forward_with_aux returned {name!r}, which aux_losses does not declare '
            f'({sorted(self.aux_losses)})'
        )

    def predict(self, inputs: Sequence[torch.Tensor], batch_img_metas: list[dict], test_cfg: dict) -> torch.Tensor:
        """Forward, then logits resized to the (padded) input size, ``(N, out_channels, H, W)``."""
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)

    @staticmethod
    def _stack_batch_gt(batch_data_samples: SampleList) -> torch.Tensor:
        """Ground-truth maps of the batch, ``(N, 1, H, W)``."""
        return torch.stack([sample.gt_sem_seg.data for sample in batch_data_samples])

    def loss_by_feat(self, seg_logits: torch.Tensor, batch_data_samples: SampleList) -> dict:
        """Upsamples the logits to the label size and applies every loss.

        The full-resolution logits (``N x K x H x W``: 300 MiB per head for 2 x 150 classes x
        512 x 512, the largest tensors of a training step) are not kept for the backward pass:

        - softmax cross-entropy losses (``CrossEntropyLoss``, the common case) without a pixel
          sampler run on the low-resolution logits through the fused upsampled cross-entropy
          (:func:`segtools.ops.upsampled_cross_entropy`; CPU), which never stores them;
        - otherwise the upsampling and the losses run under activation checkpointing and are
          recomputed from the low-resolution logits when the gradient is needed.

        Losses, gradients and the accuracy are those of upsampling first either way.

        Args:
            seg_logits: Logits, shape ``(N, out_channels, H', W')``.
            batch_data_samples: Samples with ``gt_sem_seg`` of shape ``(1, H, W)``.

        Returns:
            ``{loss_name: loss, ..., 'acc_seg': accuracy in percent}``.
        """
        seg_label = self._stack_batch_gt(batch_data_samples)
        if self._fuses_upsampling(seg_logits):
            return self._upsampled_losses(seg_logits, seg_label.squeeze(1).long())
        if torch.is_grad_enabled() and seg_logits.requires_grad:
            return checkpoint(self._full_resolution_losses, seg_logits, seg_label, use_reentrant=False)
        return self._full_resolution_losses(seg_logits, seg_label)

    def _fuses_upsampling(self, seg_logits: torch.Tensor) -> bool:
        """Whether every loss is a softmax ``CrossEntropyLoss`` the fused kernel computes."""
        return (
            self.sampler is None
            and self.out_channels > 1
            and all(type(loss) is CrossEntropyLoss and not loss.use_sigmoid for loss in self.loss_decode)
            and has_upsampled_cross_entropy_kernel(seg_logits.device)
        )

    def _upsampled_losses(self, seg_logits: torch.Tensor, seg_label: torch.Tensor) -> dict:
        """:meth:`loss_by_feat` through ``CrossEntropyLoss.forward_upsampled``; labels ``(N, H, W)``."""
        losses: dict[str, torch.Tensor] = {}
        for loss_module in self.loss_decode:
            value, pred = loss_module.forward_upsampled(
                seg_logits, seg_label, align_corners=self.align_corners, ignore_index=self.ignore_index
            )
            losses[loss_module.loss_name] = losses.get(loss_module.loss_name, 0) + value
        losses['acc_seg'] = label_accuracy(pred, seg_label, ignore_index=self.ignore_index)
        return losses

    def _full_resolution_losses(self, seg_logits: torch.Tensor, seg_label: torch.Tensor) -> dict:
        """:meth:`loss_by_feat` on the stacked labels ``(N, 1, H, W)``, upsampling first."""
        seg_logits = resize(seg_logits, seg_label.shape[2:], align_corners=self.align_corners)
        # Only with a sampler: losses without per-pixel weights (Dice, Lovasz) refuse any weight.
        weight = {} if self.sampler is None else {'weight': self.sampler.sample(seg_logits, seg_label)}
        seg_label = seg_label.squeeze(1).long()
        losses: dict[str, torch.Tensor] = {}
        for loss_module in self.loss_decode:
            value = loss_module(seg_logits, seg_label, ignore_index=self.ignore_index, **weight)
            losses[loss_module.loss_name] = losses.get(loss_module.loss_name, 0) + value
        if self.out_channels == 1:
            # Binary mode: two-channel logits whose argmax is sigmoid(x) > threshold.
            margin = seg_logits - torch.logit(torch.tensor(self.threshold, dtype=seg_logits.dtype))
            seg_logits = torch.cat([torch.zeros_like(margin), margin], dim=1)
        losses['acc_seg'] = accuracy(seg_logits, seg_label, ignore_index=self.ignore_index)
        return losses

    def _build_se_loss(self, loss_se_decode: dict) -> nn.Module:
        """Builds EncNet's SE loss in either of its two forms.

        - segtools' ``SELoss``: called as ``loss(se_logits, seg_label, ignore_index=...)``.
        - MMSegmentation's ``CrossEntropyLoss(use_sigmoid=True)``: binary cross-entropy between
          the SE logits and the class-presence vector of each label map; logged as ``loss_se``
          unless given another ``loss_name`` than ``'loss_ce'`` (mmseg always logs ``loss_se``).

        Raises:
            ValueError: naming ``loss_se_decode`` for any other loss or a form whose meaning
                would differ from mmseg's.
        """
        name = type(self).__name__
        loss = MODELS.build(loss_se_decode)
        if isinstance(loss, SELoss):
            return loss
        if not isinstance(loss, CrossEntropyLoss):
            raise ValueError(
                f"{name}: loss_se_decode must be SELoss or CrossEntropyLoss(use_sigmoid=True) (MMSegmentation's "
                f'form), got {type(loss).__name__}'
            )
        if not loss.use_sigmoid:
            raise ValueError(
                f'{name}: loss_se_decode CrossEntropyLoss needs use_sigmoid=True: the SE loss is a binary '
                'cross-entropy per class against the classes present in the image'
            )
        if loss.class_weight is not None:
            raise ValueError(
                f'{name}: loss_se_decode.class_weight is not supported: MMSegmentation passes it to the BCE as '
                "pos_weight (scaling only the 'class present' term), segtools' CrossEntropyLoss weighs whole "
                'elements; drop it'
            )
        return loss

    def _se_loss_by_feat(self, se_logits: torch.Tensor, batch_data_samples: SampleList) -> dict[str, torch.Tensor]:
        """The SE loss of the head's ``loss_se_decode`` (built by :meth:`_build_se_loss`): ``{name: value}``.

        Args:
            se_logits: Class-presence logits, shape ``(N, num_classes)``.
            batch_data_samples: Samples with ``gt_sem_seg``.
        """
        loss_se = self.loss_se_decode
        seg_label = self._stack_batch_gt(batch_data_samples).squeeze(1).long()
        if isinstance(loss_se, SELoss):
            return {loss_se.loss_name: loss_se(se_logits, seg_label, ignore_index=self.ignore_index)}
        presence = class_presence(seg_label, self.num_classes, self.ignore_index).to(se_logits.dtype)
        key = 'loss_se' if loss_se.loss_name == 'loss_ce' else loss_se.loss_name
        return {key: loss_se(se_logits, presence)}

    def predict_by_feat(self, seg_logits: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        """Resizes the logits to the padded input size (``pad_shape``, else ``img_shape``)."""
        meta = batch_img_metas[0]
        size = (meta.get('pad_shape') or meta['img_shape'])[:2]
        return resize(seg_logits, size, align_corners=self.align_corners)
