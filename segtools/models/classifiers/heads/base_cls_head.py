"""The base class every classification head builds on: losses (hard or soft targets) and prediction."""

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from segtools.registry import MODELS
from segtools.structures import ClsDataSample, ClsSampleList

from ...losses.accuracy import accuracy
from ...losses.cross_entropy_loss import CrossEntropyLoss
from ...losses.functional import soft_target_cross_entropy
from ...losses.label_smoothing_cross_entropy_loss import LabelSmoothingCrossEntropyLoss
from ...losses.soft_target_cross_entropy_loss import SoftTargetCrossEntropyLoss

DEFAULT_LOSS = dict(type='CrossEntropyLoss', loss_weight=1.0)
# No class index is ignored in classification: the losses' default ignore label, 255, is an
# ImageNet class. torch's own default, -100, is never a label.
NO_IGNORE = -100
SOFT_LOSSES = 'CrossEntropyLoss (without class_weight), LabelSmoothingCrossEntropyLoss or SoftTargetCrossEntropyLoss'


class BaseClsHead(BaseModule, metaclass=ABCMeta):
    """Owns what every classification head shares: input selection, losses, accuracy, prediction.

    A subclass writes ``__init__`` and :meth:`forward` (features -> logits ``(N, num_classes)``)
    and sets ``takes_pooled``: ``True`` for a head on pooled ``(N, C)`` vectors (after
    ``GlobalAveragePooling``), ``False`` for one on feature maps ``(N, C, H, W)``.

    Targets: samples carrying a soft ``gt_score`` (Mixup/CutMix) train on it, else on
    ``gt_label``. ``SoftTargetCrossEntropyLoss`` (and a sigmoid ``CrossEntropyLoss``) take
    soft targets as they are; a softmax ``CrossEntropyLoss`` and ``LabelSmoothingCrossEntropyLoss``
    (smoothing ``s``) become the soft-target cross-entropy of ``(1 - s) t + s / C``, which is
    PyTorch-Encoding's ``NLLMultiLabelSmooth(s)``, with their ``loss_weight``. Other losses refuse
    soft targets.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the selected input.
        in_index: Which backbone/neck output the head reads.
        loss: Config of the loss (``loss_module``), logged under its ``loss_name``.
        topk: The ``k`` of the top-k accuracies logged with the loss (``acc_top<k>``); hard
            labels only (a mixed target has no single class).
        init_cfg: mmengine initialisation config.
    """

    takes_pooled: ClassVar[bool] = True

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        *,
        in_index: int = -1,
        loss: dict = DEFAULT_LOSS,
        topk: int | Sequence[int] = (1,),
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg)
        name = type(self).__name__
        for key, value in (('num_classes', num_classes), ('in_channels', in_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name}: {key} must be a positive int, got {value!r}')
        if isinstance(in_index, bool) or not isinstance(in_index, int):
            raise ValueError(f'{name}: in_index must be an int, got {in_index!r}')
        topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not topk or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in topk):
            raise ValueError(f'{name}: topk must be positive ints, got {topk!r}')
        if max(topk) > num_classes:
            raise ValueError(f'{name}: topk={topk} exceeds num_classes={num_classes}; use topk=(1,)')
        if not isinstance(loss, dict):
            raise TypeError(f'{name}: loss must be a config dict, got {loss!r}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.in_index = in_index
        self.topk = topk
        self.loss_module = MODELS.build(loss)
        if not isinstance(getattr(self.loss_module, 'loss_name', None), str):
            raise TypeError(f'{name}: loss {type(self.loss_module).__name__} has no loss_name')

    # ----------------------------------------------------------------- building
    def check_in_channels(self, available: Sequence[int], source: str, key: str, *, pooled: bool) -> None:
        """Checks the selected input against what the backbone or neck produces.

        Args:
            available: ``out_channels`` of the backbone (or neck).
            source: ``'backbone'`` or ``'neck'``, for the message.
            key: The config key of this head (``'head'``).
            pooled: Whether those outputs are pooled vectors (a neck with ``out_strides=None``).

        Raises:
            ValueError: naming ``key``, the wrong value and the expected one.
        """
        name = type(self).__name__
        if not -len(available) <= self.in_index < len(available):
            raise ValueError(
                f'{key}.in_index={self.in_index} is out of range: the {source} has {len(available)} outputs '
                f'(out_channels={tuple(available)})'
            )
        channels = available[self.in_index]
        if self.in_channels != channels:
            raise ValueError(
                f'{key}.in_channels={self.in_channels} does not match the {source}: its output {self.in_index} has '
                f'{channels} channels (out_channels={tuple(available)}); set {key}.in_channels={channels}'
            )
        if self.takes_pooled and not pooled:
            raise ValueError(
                f'{key}={name} takes pooled (N, C) vectors, but the {source} outputs feature maps; add '
                "neck=dict(type='GlobalAveragePooling')"
            )
        if not self.takes_pooled and pooled:
            raise ValueError(
                f'{key}={name} reads feature maps (N, C, H, W), but the {source} pools them into vectors; drop the neck'
            )

    def soft_target_smoothing(self) -> float | None:
        """How :attr:`loss_module` takes soft targets: ``None`` as they are, else the smoothing ``s``.

        Raises:
            ValueError: If the loss cannot take soft targets.
        """
        loss = self.loss_module
        if isinstance(loss, SoftTargetCrossEntropyLoss) or (isinstance(loss, CrossEntropyLoss) and loss.use_sigmoid):
            return None
        if isinstance(loss, LabelSmoothingCrossEntropyLoss):
            return loss.smoothing
        if isinstance(loss, CrossEntropyLoss) and loss.class_weight is None:
            return 0.0
        raise ValueError(
            f'{type(self).__name__}: loss {type(loss).__name__} cannot take the soft targets (gt_score) of '
            f'Mixup/CutMix; use {SOFT_LOSSES}'
        )

    # ------------------------------------------------------------------ forward
    def _select(self, feats: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """The head's input among the backbone/neck outputs."""
        return feats if isinstance(feats, torch.Tensor) else feats[self.in_index]

    @abstractmethod
    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone/neck outputs -> logits ``(N, num_classes)``."""

    def loss(self, feats: Sequence[torch.Tensor], data_samples: ClsSampleList) -> dict[str, torch.Tensor]:
        """Forward and losses; see :meth:`loss_by_score`."""
        return self.loss_by_score(self(feats), data_samples)

    def loss_by_score(self, cls_score: torch.Tensor, data_samples: ClsSampleList) -> dict[str, torch.Tensor]:
        """The loss against the samples' soft ``gt_score`` or their ``gt_label``.

        Args:
            cls_score: Logits, ``(N, num_classes)``.
            data_samples: ``N`` samples, all with ``gt_score`` ``(num_classes,)`` or all with
                ``gt_label`` ``(1,)``.

        Returns:
            ``{loss_name: loss}``, plus ``{'acc_top<k>': percent}`` for hard labels.
        """
        name = type(self).__name__
        if len(data_samples) != cls_score.shape[0]:
            raise ValueError(f'{name}: {cls_score.shape[0]} scores but {len(data_samples)} data samples')
        soft = ['gt_score' in sample for sample in data_samples]
        loss = self.loss_module
        if all(soft):
            target = torch.stack([sample.gt_score for sample in data_samples]).to(cls_score)
            if target.shape != cls_score.shape:
                raise ValueError(f'{name}: gt_score of shape {tuple(target.shape[1:])}, expected ({self.num_classes},)')
            smoothing = self.soft_target_smoothing()
            if smoothing is None:
                return {loss.loss_name: loss(cls_score, target)}
            target = (1 - smoothing) * target + smoothing / self.num_classes
            value = soft_target_cross_entropy(cls_score, target, reduction=loss.reduction)
            return {loss.loss_name: loss.loss_weight * value}
        if any(soft):
            raise ValueError(f'{name}: only some samples of the batch carry a soft gt_score; mix all or none')
        if not all('gt_label' in sample for sample in data_samples):
            raise ValueError(f'{name}: every sample needs gt_label (or a soft gt_score) to compute the loss')
        labels = torch.cat([sample.gt_label for sample in data_samples]).to(cls_score.device)
        losses = {loss.loss_name: loss(cls_score, labels, ignore_index=NO_IGNORE)}
        accuracies = accuracy(cls_score.detach(), labels, topk=self.topk, ignore_index=NO_IGNORE)
        losses.update({f'acc_top{k}': acc for k, acc in zip(self.topk, accuracies, strict=True)})
        return losses

    def predict(self, feats: Sequence[torch.Tensor], data_samples: ClsSampleList | None = None) -> ClsSampleList:
        """Forward and :meth:`predict_by_score`."""
        return self.predict_by_score(self(feats), data_samples)

    def predict_by_score(self, cls_score: torch.Tensor, data_samples: ClsSampleList | None = None) -> ClsSampleList:
        """Writes ``pred_score`` (softmax, ``(num_classes,)``) and ``pred_label`` (argmax, ``(1,)``).

        Args:
            cls_score: Logits, ``(N, num_classes)``.
            data_samples: The batch's samples (their labels and metainfo are kept); new ones
                when ``None``.

        Returns:
            The samples with the predictions.
        """
        scores = F.softmax(cls_score.detach().float(), dim=1)
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [ClsDataSample() for _ in range(cls_score.shape[0])]
        for sample, score, label in zip(data_samples, scores, labels, strict=True):
            sample.pred_score = score
            sample.pred_label = label
        return data_samples
