"""Light helpers for the tools: registration, CLI errors, config overrides, atomic writes, resume, CPU launch.

Importing this package costs little: it pulls in neither mmengine's runner nor the weights
(checkpoint loading, downloads and the model store live in :mod:`segtools.weights`).
"""

from .cli import run_tool
from .config_overrides import apply_cfg_options
from .fileio import atomic_open, atomic_write_bytes
from .launch import prepare_cpu_distributed
from .resume import find_resumable_checkpoint, remove_stale_temporary_files
from .set_env import register_all_modules

__all__ = [
    'apply_cfg_options',
    'atomic_open',
    'atomic_write_bytes',
    'find_resumable_checkpoint',
    'prepare_cpu_distributed',
    'register_all_modules',
    'remove_stale_temporary_files',
    'run_tool',
]
