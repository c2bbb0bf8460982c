"""Atomic file writes: readers see the old file or the whole new one, never half of it.

Checkpoints, metrics, figures, converted weights and label PNGs are all written this way: into
a temporary file in the destination's folder (same file system), flushed and fsynced, then
``os.replace``-d over the destination. An error or a kill leaves at most a hidden ``.tmp``
file, which the next attempt does not read.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = 'wb') -> Iterator[IO]:
    """Opens a temporary file that replaces ``path`` when the ``with`` block succeeds.

    Args:
        path: The destination; its folder is created if missing.
        mode: ``'wb'`` or ``'w'`` (text, UTF-8).

    Yields:
        The open temporary file.
    """
    if mode not in ('wb', 'w'):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(handle, mode, **({} if 'b' in mode else {'encoding': 'utf-8'})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as file:
        file.write(data)
