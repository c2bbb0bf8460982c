"""Loads the compiled extension ``segtools._ext`` once and reports its absence.

Importing segtools never fails for lack of the extension: every op has a
plain-PyTorch reference, and :func:`get_ext` returns ``None`` (after one warning
that names the build command) when the kernel cannot run, so the op falls back
to the reference. It also returns ``None``, silently, while a model is exported
(ONNX, ``torch.export``, ``torch.jit.trace``): the exported graph holds the references.
"""

import contextlib
import importlib
import warnings
from collections.abc import Iterator
from types import ModuleType

import torch

from ._utils import is_exporting

BUILD_COMMAND = 'pip install --no-build-isolation -e .'

_MISSING = object()
_ext: object = None  # None: not tried yet; _MISSING: import failed; else the module.
_load_error = ''
_warned: set[str] = set()
_force_reference = False


def _load() -> ModuleType | None:
    global _ext, _load_error
    if _ext is None:
        try:
            _ext = importlib.import_module('segtools._ext')
        except ImportError as err:
            _ext = _MISSING
            _load_error = str(err)
    return None if _ext is _MISSING else _ext  # type: ignore[return-value]


def has_ext() -> bool:
    """Whether the compiled extension ``segtools._ext`` can be imported."""
    return _load() is not None


def has_cuda_kernels() -> bool:
    """Whether the extension was built with its CUDA kernels (``-DWITH_CUDA``)."""
    ext = _load()
    return ext is not None and bool(ext.with_cuda())


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def get_ext(op: str, device: torch.device) -> ModuleType | None:
    """Returns the extension if its kernels can run ``op`` on ``device``.

    Args:
        op: Name of the op, used in the warning.
        device: Device of the op's inputs.

    Returns:
        The ``segtools._ext`` module, or ``None`` when the op must fall back to
        its plain-PyTorch reference. A fallback warns once per reason; inside
        :func:`reference_ops` and during export (:func:`segtools.ops._utils.is_exporting`,
        where the references are the only form a graph can hold) it is silent.
    """
    if _force_reference or is_exporting():
        return None
    ext = _load()
    if ext is None:
        _warn_once(
            'missing',
            f'segtools._ext is not built ({_load_error}); {op} and the other segtools ops fall back '
            f'to their plain-PyTorch references, which are slower and use more memory. Build the kernels with '
            f'`{BUILD_COMMAND}` in the segtools checkout.',
        )
        return None
    if device.type == 'cuda' and not ext.with_cuda():
        _warn_once(
            'no-cuda',
            f'segtools._ext was built without CUDA kernels; {op} and the other segtools ops fall back '
            f'to their plain-PyTorch references on CUDA tensors. Rebuild on a machine with CUDA (or with '
            f'FORCE_CUDA=1) using `{BUILD_COMMAND}`.',
        )
        return None
    if device.type not in ('cpu', 'cuda'):
        _warn_once(
            f'device-{device.type}',
            f'segtools._ext has no kernels for {device.type} tensors; {op} and the '
            f'other segtools ops fall back to their plain-PyTorch references.',
        )
        return None
    return ext


@contextlib.contextmanager
def reference_ops() -> Iterator[None]:
    """Runs every segtools op with its plain-PyTorch reference inside the block.

    For debugging a kernel and for comparisons (the demo and the benchmark);
    no fallback warning is given. Not thread-safe: it flips a module-level switch.
    """
    global _force_reference
    previous, _force_reference = _force_reference, True
    try:
        yield
    finally:
        _force_reference = previous
