"""Small functional wrappers used by heads and segmentors."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from segtools.ops._utils import is_exporting


def resize(
    x: torch.Tensor,
    size: tuple[int, int] | torch.Size,
    mode: str = 'bilinear',
    align_corners: bool | None = False,
) -> torch.Tensor:
    """Resizes ``x`` of shape ``(N, C, H, W)`` to ``size``; a no-op when already there.

    ``align_corners`` is dropped for modes that do not take it (``'nearest'``).
    """
    if _same_size(x.shape[-2:], size):
        return x
    if mode in ('nearest', 'area', 'nearest-exact'):
        return F.interpolate(x, size=tuple(size), mode=mode)
    return F.interpolate(x, size=tuple(size), mode=mode, align_corners=align_corners)


def _same_size(current: Sequence[int], size: Sequence[int]) -> bool:
    """Whether ``current == size``; while exporting, only when it holds for every input size.

    In an export the sizes are symbolic: comparing them as Python booleans makes
    ``torch.export`` guard on the example's values, e.g. a pooled 6x6 map against a feature
    map 6 wide at the example's size pins the width of the whole graph to the example's.
    """
    if not is_exporting():
        return tuple(current) == tuple(size)
    from torch.fx.experimental.symbolic_shapes import statically_known_true  # loaded by the exporter anyway

    return len(current) == len(size) and all(statically_known_true(a == b) for a, b in zip(current, size, strict=True))


def add_prefix(inputs: dict, prefix: str) -> dict:
    """Returns ``{f'{prefix}.{key}': value}`` for every item of ``inputs``."""
    return {f'{prefix}.{key}': value for key, value in inputs.items()}
