"""Argument checks, the autocast policy and export detection shared by the segtools ops."""

import functools
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)
_LOW_PRECISION = (torch.float16, torch.bfloat16)

F = TypeVar('F', bound=Callable)


def is_exporting() -> bool:
    """Whether the current call is being captured into a graph for export.

    True inside ``torch.onnx.export`` (either exporter), ``torch.export.export`` (strict or
    not) and ``torch.jit.trace``. The compiled kernels are opaque to these tracers (a
    symbolic shape cannot enter them, and ONNX has no op for them), so the ops take their
    plain-PyTorch references there. ``torch.compile`` is not export: it keeps the kernels.
    """
    # Cheapest first: torch.onnx is imported on first use of is_in_onnx_export (~20 ms).
    return torch.compiler.is_exporting() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def check_tensor(op: str, name: str, value: object, shape: str, ndim: int) -> torch.Tensor:
    """Checks that ``value`` is a floating tensor with ``ndim`` dimensions.

    Args:
        op: Name of the op, used in the message.
        name: Name of the argument, used in the message.
        value: The argument.
        shape: The expected shape in words, e.g. ``'(B, N, D)'``.
        ndim: The expected number of dimensions.

    Returns:
        ``value``, unchanged.

    Raises:
        ValueError: naming the argument, the expected shape and what was given.
    """
    if not isinstance(value, torch.Tensor):
        raise ValueError(f'{op}: {name} must be a tensor of shape {shape}, got {type(value).__name__}')
    if value.dim() != ndim:
        raise ValueError(f'{op}: {name} must have shape {shape}, got shape {tuple(value.shape)}')
    if value.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f'{op}: {name} must be float32 or float64 (float16/bfloat16 only under autocast, '
            f'which computes in float32), got {value.dtype}'
        )
    return value


def check_size(op: str, name: str, value: torch.Tensor, dim: int, expected: int, shape: str, why: str) -> None:
    """Checks ``value.shape[dim] == expected``; ``why`` names where ``expected`` comes from."""
    if value.shape[dim] != expected:
        raise ValueError(
            f'{op}: {name} must have shape {shape} with size {expected} in dim {dim} ({why}), '
            f'got shape {tuple(value.shape)}'
        )


def check_same_dtype_device(op: str, named: Sequence[tuple[str, torch.Tensor]]) -> None:
    """Checks that all tensors share the first one's dtype and device."""
    first_name, first = named[0]
    for name, tensor in named[1:]:
        if tensor.dtype != first.dtype:
            raise ValueError(f'{op}: {name} must have the dtype of {first_name} ({first.dtype}), got {tensor.dtype}')
        if tensor.device != first.device:
            raise ValueError(
                f'{op}: {name} must be on the device of {first_name} ({first.device}), got {tensor.device}'
            )


def float32_under_autocast(fn: F) -> F:
    """Runs ``fn`` in float32 when autocast is on for its inputs' device.

    The GEMM identities these ops use cancel large terms, so half precision is not
    safe; float16/bfloat16 inputs are cast up and autocast is turned off inside.
    Outside autocast the inputs are passed through untouched (and checked).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        device_type = next((a.device.type for a in args if isinstance(a, torch.Tensor)), 'cpu')
        if not torch.is_autocast_enabled(device_type):
            return fn(*args, **kwargs)
        args = tuple(a.float() if isinstance(a, torch.Tensor) and a.dtype in _LOW_PRECISION else a for a in args)
        with torch.autocast(device_type, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
