"""Small functional wrappers used by heads and segmentors."""

import torch
import torch.nn.functional as F


def resize(
    x: torch.Tensor,
    size: tuple[int, int] | torch.Size,
    mode: str = 'bilinear',
    align_corners: bool | None = False,
) -> torch.Tensor:
    """Resizes ``x`` of shape ``(N, C, H, W)`` to ``size``; a no-op when already there.

    ``align_corners`` is dropped for modes that do not take it (``'nearest'``).
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode in ('nearest', 'area', 'nearest-exact'):
        return F.interpolate(x, size=tuple(size), mode=mode)
    return F.interpolate(x, size=tuple(size), mode=mode, align_corners=align_corners)


def add_prefix(inputs: dict, prefix: str) -> dict:
    """Returns ``{f'{prefix}.{key}': value}`` for every item of ``inputs``."""
    return {f'{prefix}.{key}': value for key, value in inputs.items()}
