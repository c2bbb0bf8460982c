"""Test-time augmentation of classifiers: average the probabilities of the views."""

import torch
from mmengine.model import BaseTTAModel
from torch import nn

from segtools.registry import MODELS
from segtools.structures import ClsDataSample, ClsSampleList

from ..utils.building import build_tta_module

# Metainfo keys that describe one view only; the fused prediction drops them.
VIEW_KEYS = ('flip', 'flip_direction')


@MODELS.register_module()
class ClsTTAModel(BaseTTAModel):
    """Fuses a classifier's predictions of the views made by a ``TestTimeAug`` pipeline.

    The fused ``pred_score`` is the mean of the views' probabilities (mmpretrain's
    ``AverageClsScoreTTA``) and ``pred_label`` its argmax.

    Args:
        module: The classifier, or its config (built from segtools' ``MODELS``).
        data_preprocessor: Overrides the classifier's preprocessor when ``module`` is a config.
    """

    def __init__(self, module: dict | nn.Module, data_preprocessor: dict | nn.Module | None = None) -> None:
        super().__init__(module=build_tta_module(module, data_preprocessor))

    def merge_preds(self, data_samples_list: list[ClsSampleList]) -> ClsSampleList:
        """Fuses the views of each image.

        Args:
            data_samples_list: Per image, the list of its views' predicted samples.

        Returns:
            One sample per image with the mean ``pred_score``, its argmax ``pred_label``, the
            first view's metainfo (without ``flip``/``flip_direction``) and its ``gt_label``.
        """
        merged = []
        for i, views in enumerate(data_samples_list):
            if not views:
                raise ValueError(f'ClsTTAModel: image {i} has no augmented views')
            score = torch.stack([view.pred_score for view in views]).mean(dim=0)
            first = views[0]
            sample = ClsDataSample(metainfo={k: v for k, v in first.metainfo.items() if k not in VIEW_KEYS})
            sample.pred_score = score
            sample.pred_label = score.argmax(dim=0, keepdim=True)
            if 'gt_label' in first:
                sample.gt_label = first.gt_label
            merged.append(sample)
        return merged
