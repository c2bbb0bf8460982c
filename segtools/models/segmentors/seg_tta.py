"""Test-time augmentation: probability fusion, tensor-level multi-scale + flip, and ``SegTTAModel``.

Two ways to run multi-scale + flip inference, sharing one fusion rule
(:func:`fuse_probabilities`: average softmax probabilities, sigmoid for one
output channel; PyTorch-Encoding's MultiEvalModule summed ``exp`` of logits instead):

- On tensors, inside the segmentor: ``test_cfg=dict(mode=..., tta=dict(scales=[0.5, 0.75, 1.0,
  1.25, 1.5, 1.75], flip=True))`` makes :meth:`EncoderDecoder.inference` call
  :func:`multi_scale_flip_inference`. No pipeline change and no wrapper model; each view
  runs whole or slide inference, and each scale's flipped view is batched with it.
- In the data pipeline (mmengine's way): a ``TestTimeAug`` pipeline yields the views and
  :class:`SegTTAModel` fuses the per-view predictions, which ``predict`` has already
  un-flipped and resized to ``ori_shape``.
"""

from collections.abc import Callable, Sequence

import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from torch import nn

from segtools.registry import MODELS
from segtools.structures import SampleList, SegDataSample

from ..utils import resize
from ..utils.building import build_tta_module
from .base import flip_dims

TTA_KEYS = ('scales', 'flip', 'flip_direction', 'batch_flip')
# Metainfo keys that describe one view only; the fused prediction drops them.
VIEW_KEYS = ('flip', 'flip_direction')


def check_tta_cfg(tta: dict) -> None:
    """Raises ``ValueError`` naming unknown or invalid keys of ``test_cfg.tta``."""
    unknown = sorted(set(tta) - set(TTA_KEYS))
    if unknown:
        raise ValueError(f'unknown test_cfg.tta keys {unknown}; expected some of {TTA_KEYS}')
    scales = tta.get('scales', (1.0,))
    if len(scales) == 0 or any(s <= 0 for s in scales):
        raise ValueError(f'test_cfg.tta.scales must be a non-empty list of positive numbers, got {scales!r}')
    flip_dims(tta.get('flip_direction', 'horizontal'))


def fuse_probabilities(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Averages the probabilities of several predictions of the same pixels.

    Args:
        logits: Logits of each view, all ``(..., K, H, W)`` of one shape; softmax
            over ``K``, or a sigmoid when ``K == 1``.

    Returns:
        Logits ``(..., K, H, W)`` whose softmax (sigmoid) is the average
        probability: ``log(mean p)`` (``logit(mean p)``), so argmax/threshold and
        later fusion keep working on them.
    """
    if len(logits) == 0:
        raise ValueError('fuse_probabilities needs at least one prediction')
    binary = logits[0].shape[-3] == 1
    total = None
    for view in logits:
        probs = view.sigmoid() if binary else view.softmax(dim=-3)
        total = probs if total is None else total + probs
    mean = total / len(logits)
    eps = torch.finfo(mean.dtype).eps
    return torch.logit(mean, eps=eps) if binary else mean.clamp_min(eps).log()


def multi_scale_flip_inference(
    infer: Callable[[torch.Tensor, list[dict]], torch.Tensor],
    inputs: torch.Tensor,
    batch_img_metas: list[dict],
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    flip_direction: str = 'horizontal',
    batch_flip: bool = True,
    align_corners: bool = False,
) -> torch.Tensor:
    """Multi-scale (+ flip) inference on a batch of tensors, fused by averaged probabilities.

    Each view is the batch resized by ``scale`` (relative to the preprocessed input;
    PyTorch-Encoding's scales are relative to its base size, which the test pipeline's
    resize plays here), optionally flipped; its logits are un-flipped and resized
    back to the input size before fusion.

    Args:
        infer: Single-view inference, ``(N, C, h, w), metas -> (N, K, h, w)`` logits.
        inputs: Preprocessed images, ``(N, C, H, W)``.
        batch_img_metas: One meta dict per image.
        scales: Resize factors of the views.
        flip: Also run each scale flipped.
        flip_direction: ``'horizontal'``, ``'vertical'`` or ``'diagonal'``.
        batch_flip: Run a scale and its flipped view as one batch of ``2N``
            (faster, twice the memory of a view).
        align_corners: ``align_corners`` of the resizes.

    Returns:
        Fused logits ``(N, K, H, W)``; see :func:`fuse_probabilities`.
    """
    check_tta_cfg(dict(scales=scales, flip_direction=flip_direction))
    dims = flip_dims(flip_direction)
    size = tuple(inputs.shape[2:])
    views = []
    for scale in scales:
        scaled_size = tuple(max(1, int(s * scale + 0.5)) for s in size)
        x = resize(inputs, scaled_size, align_corners=align_corners)
        if flip and batch_flip:
            both = infer(torch.cat([x, x.flip(dims)]), batch_img_metas * 2)
            outputs = [both[: len(x)], both[len(x) :].flip(dims)]
        else:
            outputs = [infer(x, batch_img_metas)]
            if flip:
                outputs.append(infer(x.flip(dims), batch_img_metas).flip(dims))
        views.extend(resize(out, size, align_corners=align_corners) for out in outputs)
    return fuse_probabilities(views)


@MODELS.register_module()
class SegTTAModel(BaseTTAModel):
    """Fuses a segmentor's predictions of the views made by a ``TestTimeAug`` pipeline.

    Each view's ``seg_logits`` are already un-flipped and at ``ori_shape``
    (:meth:`BaseSegmentor.postprocess_result`), so fusion is per pixel.

    Args:
        module: The segmentor, or its config (built from segtools' ``MODELS``).
        data_preprocessor: Overrides the segmentor's preprocessor when ``module`` is a config.
    """

    def __init__(self, module: dict | nn.Module, data_preprocessor: dict | nn.Module | None = None) -> None:
        super().__init__(module=build_tta_module(module, data_preprocessor))

    def merge_preds(self, data_samples_list: list[SampleList]) -> SampleList:
        """Fuses the views of each image.

        Args:
            data_samples_list: Per image, the list of its views' predicted samples.

        Returns:
            One sample per image with fused ``seg_logits`` (``log`` of the mean
            probability), ``pred_sem_seg``, the first view's metainfo (without
            ``flip``/``flip_direction``) and its ``gt_sem_seg`` when present.
        """
        merged = []
        for i, views in enumerate(data_samples_list):
            if not views:
                raise ValueError(f'SegTTAModel: image {i} has no augmented views')
            shapes = {tuple(view.seg_logits.data.shape) for view in views}
            if len(shapes) != 1:
                raise ValueError(f'SegTTAModel: the views of image {i} have logits of different sizes {shapes}')
            logits = fuse_probabilities([view.seg_logits.data for view in views])
            if logits.shape[0] == 1:
                pred = (logits.sigmoid() > self.module.threshold).long()
            else:
                pred = logits.argmax(dim=0, keepdim=True)
            first = views[0]
            sample = SegDataSample(metainfo={k: v for k, v in first.metainfo.items() if k not in VIEW_KEYS})
            sample.seg_logits = PixelData(data=logits)
            sample.pred_sem_seg = PixelData(data=pred)
            if hasattr(first, 'gt_sem_seg'):
                sample.gt_sem_seg = first.gt_sem_seg
            merged.append(sample)
        return merged
