"""Backbone -> (neck) -> classification head: the image classifier."""

import inspect
from collections.abc import Sequence

import torch
from mmengine.model import BaseModel
from torch import nn

from segtools.registry import MODELS
from segtools.structures import ClsSampleList

from ..utils.building import build_part, check_neck_channels, with_pretrained
from .heads.base_cls_head import BaseClsHead

FORWARD_MODES = ('loss', 'predict', 'tensor')
DEFAULT_PREPROCESSOR = 'ClsDataPreProcessor'


def _takes(cfg: dict, argument: str) -> bool:
    """Whether the registered class a config names takes ``argument``."""
    cls = cfg['type'] if isinstance(cfg['type'], type) else MODELS.get(cfg['type'])
    return cls is not None and argument in inspect.signature(cls).parameters


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """Image classifier (mmpretrain's contract): backbone -> optional neck -> head.

    ``forward(inputs, data_samples, mode)``: ``'loss'`` returns the head's losses
    (``{loss_name: ..., 'acc_top1': ...}``), ``'predict'`` samples with ``pred_score``
    (softmax) and ``pred_label``, ``'tensor'`` the logits ``(N, num_classes)``; mmengine's
    loops, hooks and ``BaseTTAModel`` use it as they use a segmentor.

    Checked at build time, naming the config key: the head's ``in_channels``/``in_index``
    against the backbone's (or neck's) ``out_channels``; whether the head takes pooled
    vectors (``LinearClsHead``, after ``GlobalAveragePooling``) or feature maps
    (``DeepTENHead``); the preprocessor's ``num_classes`` against the head's; that the head's
    loss takes the soft targets of the preprocessor's Mixup/CutMix; and that the backbone has
    no classifier of its own (``num_classes=0``). A neck config without ``in_channels`` gets
    the backbone's ``out_channels``.

    Args:
        backbone: Backbone config (or module) declaring ``out_channels``, e.g.
            ``dict(type='ResNet', depth=50, out_indices=(3,))``.
        neck: Optional neck config (or module), e.g. ``dict(type='GlobalAveragePooling')``.
        head: Head config (or module), a :class:`BaseClsHead`.
        pretrained: Checkpoint of the backbone; becomes its
            ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
        data_preprocessor: Preprocessor config (or module); a config without ``type`` is a
            ``ClsDataPreProcessor``, and one without ``num_classes`` gets the head's.
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        backbone: dict | nn.Module,
        neck: dict | nn.Module | None = None,
        head: dict | nn.Module | None = None,
        pretrained: str | None = None,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        if head is None:
            raise ValueError("ImageClassifier: head is required, e.g. head=dict(type='LinearClsHead', ...)")
        super().__init__(data_preprocessor=self._build_preprocessor(data_preprocessor, head), init_cfg=init_cfg)

        self.backbone = build_part(with_pretrained(backbone, pretrained, 'ImageClassifier'))
        backbone_classes = getattr(self.backbone, 'num_classes', 0)
        if backbone_classes:
            raise ValueError(
                f'backbone.num_classes={backbone_classes} makes the backbone return logits; the head classifies: '
                'set backbone.num_classes=0 and head.num_classes'
            )
        features, source = self.backbone, 'backbone'
        self.neck = None
        if neck is not None:
            self.neck = build_part(self._with_in_channels(neck, self.backbone))
            check_neck_channels(self.neck, self.backbone, ' (or leave it out)')
            features, source = self.neck, 'neck'

        self.head = build_part(head)
        if not isinstance(self.head, BaseClsHead):
            raise TypeError(f'head must be a classification head (BaseClsHead), got {type(self.head).__name__}')
        available = getattr(features, 'out_channels', None)
        if available is not None:
            pooled = getattr(features, 'out_strides', ()) is None
            self.head.check_in_channels(tuple(available), source, 'head', pooled=pooled)
        self.num_classes = self.head.num_classes
        self._check_preprocessor()

    # ----------------------------------------------------------------- building
    @staticmethod
    def _build_preprocessor(data_preprocessor: dict | nn.Module | None, head: dict | nn.Module) -> nn.Module:
        if isinstance(data_preprocessor, nn.Module):
            return data_preprocessor
        cfg = {'type': DEFAULT_PREPROCESSOR, **(data_preprocessor or {})}
        num_classes = head.get('num_classes') if isinstance(head, dict) else getattr(head, 'num_classes', None)
        if cfg.get('num_classes') is None and num_classes is not None and _takes(cfg, 'num_classes'):
            cfg['num_classes'] = num_classes
        return MODELS.build(cfg)

    @staticmethod
    def _with_in_channels(neck: dict | nn.Module, backbone: nn.Module) -> dict | nn.Module:
        """Fills a neck config's missing ``in_channels`` from the backbone's ``out_channels``."""
        channels = getattr(backbone, 'out_channels', None)
        if not isinstance(neck, dict) or neck.get('in_channels') is not None or channels is None:
            return neck
        return {**neck, 'in_channels': tuple(channels)} if _takes(neck, 'in_channels') else neck

    def _check_preprocessor(self) -> None:
        given = getattr(self.data_preprocessor, 'num_classes', None)
        if given is not None and given != self.num_classes:
            raise ValueError(
                f'data_preprocessor.num_classes={given} does not match head.num_classes={self.num_classes}; '
                "leave data_preprocessor.num_classes out (it defaults to the head's)"
            )
        if getattr(self.data_preprocessor, 'batch_augments', None):
            try:
                self.head.soft_target_smoothing()
            except ValueError as err:
                raise ValueError(f'head.loss: data_preprocessor.batch_augments make soft targets, but {err}') from err

    # ------------------------------------------------------------------ forward
    def forward(
        self, inputs: torch.Tensor, data_samples: ClsSampleList | None = None, mode: str = 'tensor'
    ) -> dict | ClsSampleList | torch.Tensor:
        """mmengine's entry point.

        Args:
            inputs: Preprocessed images, ``(N, C, H, W)``.
            data_samples: Samples with ``gt_label`` or ``gt_score`` (for ``'loss'``).
            mode: ``'loss'`` -> dict of losses, ``'predict'`` -> list of ``ClsDataSample``,
                ``'tensor'`` -> logits ``(N, num_classes)``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        raise ValueError(f'ImageClassifier: unknown forward mode {mode!r}; expected one of {FORWARD_MODES}')

    def extract_feat(self, inputs: torch.Tensor) -> Sequence[torch.Tensor]:
        """Images ``(N, C, H, W)`` -> backbone (then neck) outputs, a tuple."""
        x = self.backbone(inputs)
        return self.neck(x) if self.neck is not None else x

    def loss(self, inputs: torch.Tensor, data_samples: ClsSampleList) -> dict[str, torch.Tensor]:
        """The head's losses (and hard-label accuracies)."""
        if data_samples is None:
            raise ValueError("ImageClassifier: mode='loss' needs data samples with gt_label or gt_score")
        return self.head.loss(self.extract_feat(inputs), data_samples)

    def predict(self, inputs: torch.Tensor, data_samples: ClsSampleList | None = None) -> ClsSampleList:
        """Samples with ``pred_score`` ``(num_classes,)`` (softmax) and ``pred_label`` ``(1,)``."""
        return self.head.predict(self.extract_feat(inputs), data_samples)
