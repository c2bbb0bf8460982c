"""Atomic checkpoint writing: mmengine's local file backend with temp file, fsync and rename.

mmengine's ``LocalBackend.put`` opens the final path and writes into it, so a killed process leaves a
truncated ``iter_N.pth`` that ``last_checkpoint`` may already name. :class:`AtomicLocalBackend` writes
through :func:`segtools.utils.fileio.atomic_write_bytes` (a temporary file in the same folder, fsynced,
then ``os.replace``-d into place), so a checkpoint path is either complete or absent;
:func:`segtools.utils.resume.find_resumable_checkpoint` also skips pointers to missing or incomplete
files. :func:`segtools.weights.registration.setup_safe_checkpointing` registers it with mmengine's file
backends as :data:`ATOMIC_BACKEND`; ``tools/train.py`` selects it for the checkpoint hook.
"""

from pathlib import Path

from mmengine.fileio import LocalBackend

from segtools.utils.fileio import atomic_write_bytes

# Name under which AtomicLocalBackend is registered in mmengine's file backends
# (``default_hooks.checkpoint.backend_args=dict(backend=ATOMIC_BACKEND)``).
ATOMIC_BACKEND = 'atomic_local'


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic (temp file, fsync, rename)."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        """Writes ``obj`` to ``filepath`` atomically."""
        atomic_write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        """Writes the text ``obj`` to ``filepath`` atomically, encoded with ``encoding``."""
        atomic_write_bytes(filepath, obj.encode(encoding))
