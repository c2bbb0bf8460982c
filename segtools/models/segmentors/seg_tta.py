"""Test-time augmentation: tensor-level multi-scale + flip, and ``SegTTAModel``.

Two ways to run multi-scale + flip inference, sharing one fusion rule
(:func:`~.multi_view.fuse_probabilities`: average probabilities, the rule slide
windows use too; PyTorch-Encoding's MultiEvalModule summed ``exp`` of logits instead):

- On tensors, inside the segmentor: ``test_cfg=dict(mode=..., tta=dict(scales=[0.5, 0.75, 1.0,
  1.25, 1.5, 1.75], flip=True))`` makes :meth:`EncoderDecoder.inference` call
  :func:`multi_scale_flip_inference`. No pipeline change and no wrapper model.
- In the data pipeline (mmengine's way, ``tools/test.py --tta``): a ``TestTimeAug``
  pipeline yields the views and :class:`SegTTAModel` fuses the per-view predictions,
  which the segmentor has already un-flipped and resized to ``ori_shape``.

Both hand all views to the segmentor's ``infer_views`` at once, so the windows of
different views and flips share forwards (``test_cfg.window_batch``); the predictions
equal those of one view and one window at a time.
"""

from collections.abc import Callable, Iterator, Sequence

import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from torch import nn

from segtools.registry import MODELS
from segtools.structures import SampleList, SegDataSample

from ..utils import resize
from ..utils.building import build_tta_module
from .base import flip_dims
from .multi_view import View, fuse_probabilities, to_logits, to_probabilities

TTA_KEYS = ('scales', 'flip', 'flip_direction')
# Metainfo keys that describe one view only; the fused prediction drops them.
VIEW_KEYS = ('flip', 'flip_direction')

InferViews = Callable[[Sequence[View]], Iterator[torch.Tensor]]


def check_tta_cfg(tta: dict) -> None:
    """Raises ``ValueError`` naming unknown or invalid keys of ``test_cfg.tta``."""
    unknown = sorted(set(tta) - set(TTA_KEYS))
    if unknown:
        hint = ' (windows and flips are batched by test_cfg.window_batch)' if 'batch_flip' in unknown else ''
        raise ValueError(f'unknown test_cfg.tta keys {unknown}; expected some of {TTA_KEYS}{hint}')
    scales = tta.get('scales', (1.0,))
    if len(scales) == 0 or any(s <= 0 for s in scales):
        raise ValueError(f'test_cfg.tta.scales must be a non-empty list of positive numbers, got {scales!r}')
    flip_dims(tta.get('flip_direction', 'horizontal'))


def multi_scale_flip_inference(
    infer_views: InferViews,
    inputs: torch.Tensor,
    batch_img_metas: list[dict],
    *,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    flip_direction: str = 'horizontal',
    align_corners: bool = False,
) -> torch.Tensor:
    """Multi-scale (+ flip) inference on a batch of tensors, fused by averaged probabilities.

    Each view is the batch resized by ``scale`` (relative to the preprocessed input;
    PyTorch-Encoding's scales are relative to its base size, which the test pipeline's
    resize plays here), optionally flipped; its logits are un-flipped and resized
    back to the input size, and its probabilities added to the running mean as soon
    as it is done.

    Args:
        infer_views: Inference of a list of views ``(inputs, metas)``, yielding each
            view's logits at its size in order (``EncoderDecoder.infer_views``).
        inputs: Preprocessed images, ``(N, C, H, W)``.
        batch_img_metas: One meta dict per image.
        scales: Resize factors of the views.
        flip: Also run each scale flipped.
        flip_direction: ``'horizontal'``, ``'vertical'`` or ``'diagonal'``.
        align_corners: ``align_corners`` of the resizes.

    Returns:
        Fused logits ``(N, K, H, W)``; see :func:`~.multi_view.fuse_probabilities`.
    """
    check_tta_cfg(dict(scales=scales, flip_direction=flip_direction))
    dims = flip_dims(flip_direction)
    size = tuple(inputs.shape[2:])
    views, flipped = [], []
    for scale in scales:
        scaled_size = tuple(max(1, int(s * scale + 0.5)) for s in size)
        x = resize(inputs, scaled_size, align_corners=align_corners)
        views.append((x, batch_img_metas))
        flipped.append(False)
        if flip:
            views.append((x.flip(dims), batch_img_metas))
            flipped.append(True)
    total = None
    for logits, is_flipped in zip(infer_views(views), flipped, strict=True):
        logits = resize(logits.flip(dims) if is_flipped else logits, size, align_corners=align_corners)
        probabilities = to_probabilities(logits)
        total = probabilities if total is None else total.add_(probabilities)
    return to_logits(total / len(views))


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

    def test_step(self, data: dict | Sequence) -> SampleList:
        """Predicts every view of the batch with the windows of all views batched, then fuses them.

        Equals mmengine's view-by-view loop (each view through ``module.test_step``),
        which runs instead when the segmentor has no ``predict_views`` or applies its
        own ``test_cfg.tta`` to each view.
        """
        if not hasattr(self.module, 'predict_views') or self.module.test_cfg.get('tta') is not None:
            return super().test_step(data)
        if isinstance(data, dict):
            views = [{key: value[i] for key, value in data.items()} for i in range(len(next(iter(data.values()))))]
        else:
            views = [[part[i] for part in data] for i in range(len(data[0]))]
        prepared = [self.module.data_preprocessor(view, False) for view in views]
        predictions = self.module.predict_views([(view['inputs'], view['data_samples']) for view in prepared])
        return self.merge_preds(list(zip(*predictions, strict=True)))

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
