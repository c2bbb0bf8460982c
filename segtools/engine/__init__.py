"""Training-engine pieces registered for the mmengine Runner (hooks, ...)."""

from .hooks import SegVisualizationHook

__all__ = ['SegVisualizationHook']
