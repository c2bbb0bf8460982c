"""Helpers used by the tools: registration, safe checkpoints, downloads, CPU distributed launch."""

from .checkpoint import (
    PlainCheckpointStateHook,
    load_from_local_safe,
    register_safe_loaders,
    setup_safe_checkpointing,
)
from .cli import run_tool
from .config_overrides import apply_cfg_options
from .download import DownloadError, HashMismatchError, OfflineError, cache_dir, download_file
from .fileio import atomic_open, atomic_write_bytes
from .launch import prepare_cpu_distributed
from .resume import find_resumable_checkpoint, remove_stale_temporary_files
from .set_env import register_all_modules

__all__ = [
    'DownloadError',
    'HashMismatchError',
    'OfflineError',
    'PlainCheckpointStateHook',
    'apply_cfg_options',
    'atomic_open',
    'atomic_write_bytes',
    'cache_dir',
    'download_file',
    'find_resumable_checkpoint',
    'load_from_local_safe',
    'prepare_cpu_distributed',
    'register_all_modules',
    'remove_stale_temporary_files',
    'register_safe_loaders',
    'run_tool',
    'setup_safe_checkpointing',
]
