"""The data sample that carries one image's class label and predicted scores."""

from numbers import Integral
from typing import Any

import numpy as np
import torch
from mmengine.structures import BaseDataElement

LABEL_FIELDS = ('gt_label', 'pred_label')
SCORE_FIELDS = ('gt_score', 'pred_score')


def format_label(value: Any, name: str = 'gt_label') -> torch.Tensor:
    """One class index -> an int64 tensor of shape ``(1,)`` (on the input tensor's device).

    Args:
        value: A Python or numpy integer, or an integer tensor/array holding one element.
        name: The field, for the message.

    Raises:
        TypeError: For a float, bool or non-integer value.
        ValueError: For a tensor/array holding other than one element.
    """
    if isinstance(value, bool | np.bool_):
        raise TypeError(f'{name} must be an integer class index, got {value!r}')
    if isinstance(value, Integral):
        return torch.tensor([int(value)], dtype=torch.long)
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f'{name} must be an int or an integer tensor of one element, got {type(value).__name__}')
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TypeError(f'{name} must hold an integer class index, got a {value.dtype} tensor')
    if value.numel() != 1:
        raise ValueError(f'{name} must hold one class index, got shape {tuple(value.shape)}')
    return value.reshape(1).long()


def format_score(value: Any, name: str = 'pred_score') -> torch.Tensor:
    """Per-class scores -> a floating tensor of shape ``(C,)``.

    Args:
        value: A 1-D tensor, array or sequence of numbers (integer ones become float32).
        name: The field, for the message.

    Raises:
        ValueError: Unless the value is 1-D with at least one class.
    """
    value = torch.as_tensor(value)
    if not value.is_floating_point():
        value = value.float()
    if value.dim() != 1 or value.numel() == 0:
        raise ValueError(f'{name} must have shape (num_classes,), got {tuple(value.shape)}')
    return value


class ClsDataSample(BaseDataElement):
    """One image's classification annotation and prediction (mmpretrain's field names).

    Data fields, plain attributes checked and converted on assignment:

    - ``gt_label``: ground-truth class, int64 ``(1,)`` (an int is accepted).
    - ``gt_score``: soft target, float ``(C,)`` summing to 1 (one-hot labels mixed by
      ``Mixup``/``CutMix``); when present, heads train on it instead of ``gt_label``.
    - ``pred_score``: predicted probabilities, float ``(C,)`` (softmax of the logits).
    - ``pred_label``: predicted class, int64 ``(1,)`` (argmax of ``pred_score``).

    Being plain fields (not properties over ``_``-prefixed ones), they appear under these
    names in ``to_dict()`` and ``'gt_label' in sample``, which is what
    ``TopKAccuracyMetric`` reads. Meta information (``img_path``, ``ori_shape``,
    ``img_shape``, ``flip``, ...) travels in ``metainfo``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in LABEL_FIELDS:
            value = format_label(value, name)
        elif name in SCORE_FIELDS:
            value = format_score(value, name)
        super().__setattr__(name, value)
