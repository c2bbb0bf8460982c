"""Image classifiers, their heads and their test-time augmentation."""

from .cls_tta import ClsTTAModel
from .heads import BaseClsHead, DeepTENHead, LinearClsHead
from .image_classifier import ImageClassifier

__all__ = ['BaseClsHead', 'ClsTTAModel', 'DeepTENHead', 'ImageClassifier', 'LinearClsHead']
