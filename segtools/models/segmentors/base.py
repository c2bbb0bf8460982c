"""What every segmentor shares: the mmengine entry point and the post-processing of logits."""

from abc import ABCMeta, abstractmethod

import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import nn

from segtools.registry import MODELS
from segtools.structures import SampleList, SegDataSample

from ..data_preprocessor import SegDataPreProcessor
from ..utils import resize

FORWARD_MODES = ('loss', 'predict', 'tensor')
# Tensor dims that a flip of each ``flip_direction`` reverses, for (..., H, W) tensors.
FLIP_DIMS = {'horizontal': (-1,), 'vertical': (-2,), 'diagonal': (-2, -1)}


def flip_dims(direction: str) -> tuple[int, ...]:
    """The dims of an ``(..., H, W)`` tensor that a flip in ``direction`` reverses."""
    if direction not in FLIP_DIMS:
        raise ValueError(f'unknown flip_direction {direction!r}; expected one of {tuple(FLIP_DIMS)}')
    return FLIP_DIMS[direction]


class BaseSegmentor(BaseModel, metaclass=ABCMeta):
    """Base of segmentors: ``forward(mode=...)`` dispatch and :meth:`postprocess_result`.

    Args:
        data_preprocessor: A preprocessor or its config, built from segtools'
            ``MODELS`` (so ``'SegDataPreProcessor'`` resolves without a default scope);
            ``None`` means ``SegDataPreProcessor()`` (stack and pad, no normalisation).
        init_cfg: mmengine initialisation config.
    """

    def __init__(self, data_preprocessor: dict | nn.Module | None = None, init_cfg: dict | None = None) -> None:
        if data_preprocessor is None:
            # mmengine's default BaseDataPreprocessor would not stack a list of images.
            data_preprocessor = SegDataPreProcessor()
        elif isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        # Set by subclasses from their decode head; used by post-processing.
        self.align_corners = False
        self.threshold: float | None = None

    def forward(
        self, inputs: torch.Tensor, data_samples: SampleList | None = None, mode: str = 'tensor'
    ) -> dict | SampleList | torch.Tensor:
        """mmengine's entry point.

        Args:
            inputs: Preprocessed images, ``(N, C, H, W)``.
            data_samples: Samples with metainfo (and ``gt_sem_seg`` for ``'loss'``).
            mode: ``'loss'`` -> dict of losses, ``'predict'`` -> list of
                :class:`SegDataSample`, ``'tensor'`` -> raw logits ``(N, K, H', W')``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f'{type(self).__name__}: unknown forward mode {mode!r}; expected one of {FORWARD_MODES}')

    @abstractmethod
    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Images -> multi-level features."""

    @abstractmethod
    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> dict:
        """Images and labelled samples -> dict of losses."""

    @abstractmethod
    def predict(self, inputs: torch.Tensor, data_samples: SampleList | None = None) -> SampleList:
        """Images -> samples with ``seg_logits`` and ``pred_sem_seg`` at the original size."""

    @abstractmethod
    def _forward(self, inputs: torch.Tensor, data_samples: SampleList | None = None) -> torch.Tensor:
        """Images -> raw logits of the network, without post-processing."""

    @staticmethod
    def batch_img_metas(inputs: torch.Tensor, data_samples: SampleList | None) -> list[dict]:
        """The samples' metainfo, or metas describing the unpadded inputs when there are no samples."""
        if data_samples is not None:
            return [sample.metainfo for sample in data_samples]
        shape = tuple(inputs.shape[2:])
        meta = dict(ori_shape=shape, img_shape=shape, pad_shape=shape, padding_size=(0, 0, 0, 0))
        return [dict(meta) for _ in range(inputs.shape[0])]

    def postprocess_result(self, seg_logits: torch.Tensor, data_samples: SampleList | None = None) -> SampleList:
        """Turns batch logits into per-image predictions at the original image size.

        Per image: crop ``padding_size`` away, undo ``flip`` (``flip_direction``),
        resize to ``ori_shape``, then argmax (or ``sigmoid > threshold`` when there
        is one output channel). Metainfo is read, never modified.

        Args:
            seg_logits: Logits at the padded input size, ``(N, K, H, W)``.
            data_samples: The batch's samples; new ones are made when ``None``.

        Returns:
            The samples with ``seg_logits`` ``(K, h, w)`` and ``pred_sem_seg``
            ``(1, h, w)`` set, ``(h, w) = ori_shape``.
        """
        metas = self.batch_img_metas(seg_logits, data_samples)
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=meta) for meta in metas]
        for logits, meta, sample in zip(seg_logits, metas, data_samples, strict=True):
            left, right, top, bottom = meta.get('padding_size', (0, 0, 0, 0))
            height, width = logits.shape[-2:]
            logits = logits[:, top : height - bottom, left : width - right]
            if meta.get('flip', False):
                logits = logits.flip(flip_dims(meta.get('flip_direction', 'horizontal')))
            ori_shape = meta.get('ori_shape', logits.shape[-2:])[:2]
            logits = resize(logits[None], ori_shape, align_corners=self.align_corners)[0]
            if logits.shape[0] == 1:
                pred = (logits.sigmoid() > self.threshold).long()
            else:
                pred = logits.argmax(dim=0, keepdim=True)
            sample.seg_logits = PixelData(data=logits)
            sample.pred_sem_seg = PixelData(data=pred)
        return data_samples
