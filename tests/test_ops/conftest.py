"""Fixtures shared by the op tests."""

import pytest
import torch

from segtools.ops import _ext

DEVICES = [
    'cpu',
    pytest.param('cuda', marks=pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')),
]


@pytest.fixture
def require_ext():
    """Fails (never skips) when the kernels under test are not built: a test of
    the kernel that silently ran the reference would prove nothing."""
    if not _ext.has_ext():
        pytest.fail(f'segtools._ext is not built; run `{_ext.BUILD_COMMAND}`')


@pytest.fixture
def missing_ext(monkeypatch):
    """Simulates a checkout where the extension was never built."""
    monkeypatch.setattr(_ext, '_ext', _ext._MISSING)
    monkeypatch.setattr(_ext, '_load_error', 'No module named segtools._ext (simulated)')
    monkeypatch.setattr(_ext, '_warned', set())
