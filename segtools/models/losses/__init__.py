"""Losses: pure functions (``functional.py``, ``lovasz.py``) and registered modules."""

from .accuracy import accuracy
from .cross_entropy_loss import CrossEntropyLoss
from .dice_loss import DiceLoss
from .label_smoothing_cross_entropy_loss import LabelSmoothingCrossEntropyLoss
from .lovasz_loss import LovaszLoss
from .ohem_cross_entropy_loss import OhemCrossEntropyLoss
from .se_loss import SELoss, class_presence
from .soft_target_cross_entropy_loss import SoftTargetCrossEntropyLoss

__all__ = [
    'accuracy',
    'class_presence',
    'CrossEntropyLoss',
    'DiceLoss',
    'LabelSmoothingCrossEntropyLoss',
    'LovaszLoss',
    'OhemCrossEntropyLoss',
    'SELoss',
    'SoftTargetCrossEntropyLoss',
]
