"""Training-engine pieces registered for the mmengine Runner (hooks, ...)."""

from .hooks import NumClassCheckHook, RandomStateHook, SegVisualizationHook, StrictLoadHook

__all__ = ['NumClassCheckHook', 'RandomStateHook', 'SegVisualizationHook', 'StrictLoadHook']
