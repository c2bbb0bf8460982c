"""Registered optimizer wrappers."""

from .bf16_optim_wrapper import (
    FP16_ONLY_KEYS,
    BF16OptimWrapper,
    bf16_wrapper_cfg,
    cpu_runs_bf16_natively,
    warn_if_bf16_is_emulated,
)

__all__ = [
    'FP16_ONLY_KEYS',
    'BF16OptimWrapper',
    'bf16_wrapper_cfg',
    'cpu_runs_bf16_natively',
    'warn_if_bf16_is_emulated',
]
