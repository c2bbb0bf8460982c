"""segtools.weights.saving: mmengine's file backend with atomic writes, as the checkpoint hook uses it."""

import os

import pytest
from mmengine.fileio import get_file_backend

from segtools.weights.registration import setup_safe_checkpointing
from segtools.weights.saving import ATOMIC_BACKEND, AtomicLocalBackend


def test_atomic_backend_writes_whole_files_or_nothing(tmp_path, monkeypatch):
    setup_safe_checkpointing()
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend=ATOMIC_BACKEND))
    assert isinstance(backend, AtomicLocalBackend)
    target = tmp_path / 'sub' / 'iter_2.pth'
    backend.put(b'complete', str(target))
    assert target.read_bytes() == b'complete'

    # A write interrupted before the rename leaves the previous file intact and no temp file.
    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', interrupted)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'half-written', str(target))
    assert target.read_bytes() == b'complete'
    assert sorted(p.name for p in target.parent.iterdir()) == ['iter_2.pth']
