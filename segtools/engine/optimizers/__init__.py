"""Registered optimizer wrappers."""

from .bf16_optim_wrapper import FP16_ONLY_KEYS, BF16OptimWrapper, bf16_wrapper_cfg

__all__ = ['FP16_ONLY_KEYS', 'BF16OptimWrapper', 'bf16_wrapper_cfg']
