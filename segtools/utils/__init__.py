"""Helpers used by the tools: registration, safe checkpoints, downloads, CPU distributed launch."""

from .checkpoint import (
    PlainCheckpointStateHook,
    find_resumable_checkpoint,
    load_from_local_safe,
    register_plain_state_hook,
    register_safe_loaders,
    setup_safe_checkpointing,
)
from .download import DownloadError, HashMismatchError, OfflineError, cache_dir, download_file
from .fileio import atomic_open, atomic_write_bytes
from .launch import prepare_cpu_distributed
from .set_env import register_all_modules

__all__ = [
    'DownloadError',
    'HashMismatchError',
    'OfflineError',
    'PlainCheckpointStateHook',
    'atomic_open',
    'atomic_write_bytes',
    'cache_dir',
    'download_file',
    'find_resumable_checkpoint',
    'load_from_local_safe',
    'prepare_cpu_distributed',
    'register_all_modules',
    'register_plain_state_hook',
    'register_safe_loaders',
    'setup_safe_checkpointing',
]
