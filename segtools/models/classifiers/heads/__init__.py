"""Classification heads; each subclasses ``BaseClsHead``."""

from .base_cls_head import BaseClsHead
from .deep_ten_head import DeepTENHead
from .linear_cls_head import LinearClsHead

__all__ = ['BaseClsHead', 'DeepTENHead', 'LinearClsHead']
