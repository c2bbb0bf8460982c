"""Training-engine pieces registered for the mmengine Runner (hooks, optimizer wrappers)."""

from .hooks import NumClassCheckHook, RandomStateHook, SegVisualizationHook, StrictLoadHook
from .optimizers import BF16OptimWrapper

__all__ = ['BF16OptimWrapper', 'NumClassCheckHook', 'RandomStateHook', 'SegVisualizationHook', 'StrictLoadHook']
