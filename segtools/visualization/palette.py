"""Colouring label maps: palette lookup, colourised label maps and indexed ("P" mode) palette PNGs.

The palettes themselves are data in :mod:`segtools.palettes`, the module the datasets take
their ``METAINFO`` palettes from, so a palette PNG and an overlay of the same label map always
agree with the dataset. :func:`get_palette` resolves a palette name (``'ade'``,
``'cityscapes'``, ``'voc'``, ``'brain_atlas'``; see :data:`segtools.palettes.NAMED_PALETTES`),
a dataset's metainfo, or an explicit ``[[r, g, b], ...]``.
"""

import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from segtools.constants import IGNORE_INDEX
from segtools.palettes import NAMED_PALETTES, generate_palette
from segtools.utils.fileio import atomic_open

# Ignored pixels are black in colour maps; overlays leave them showing the image instead.
IGNORE_COLOR = (0, 0, 0)

PaletteLike = str | Mapping | Sequence[Sequence[int]] | np.ndarray


def get_palette(name_or_dataset_meta: PaletteLike) -> np.ndarray:
    """The ``(num_classes, 3)`` uint8 RGB palette for a dataset name or a dataset's metainfo.

    Args:
        name_or_dataset_meta: One of ``'ade'``/``'ade20k'``, ``'cityscapes'``,
            ``'voc'``/``'pascal_voc'``, ``'brain_atlas'``; a dataset ``METAINFO`` /
            ``dataset.metainfo`` dict (its ``palette``, or a generated one, seed 42, when
            it only lists ``classes``); or a palette itself (``[[r, g, b], ...]``).

    Returns:
        ``(N, 3)`` uint8 array; row ``k`` is the colour of class ``k``.

    Raises:
        KeyError: An unknown palette name.
        ValueError: A metainfo with neither palette nor classes, or a malformed palette.
    """
    source = name_or_dataset_meta
    if isinstance(source, str):
        key = source.lower()
        if key not in NAMED_PALETTES:
            raise KeyError(f'unknown palette name {source!r}; expected one of {sorted(NAMED_PALETTES)}')
        source = NAMED_PALETTES[key]
    if isinstance(source, Mapping):
        palette = source.get('palette')
        if not palette:
            classes = source.get('classes')
            if not classes:
                raise ValueError(
                    f'dataset meta has neither "palette" nor "classes" (keys: {sorted(source)}); cannot build a palette'
                )
            palette = generate_palette(len(classes))
        source = palette
    array = np.asarray(source)
    if array.ndim != 2 or array.shape[1] != 3 or len(array) == 0:
        raise ValueError(f'a palette must be a non-empty (N, 3) list of [r, g, b], got shape {array.shape}')
    if array.min() < 0 or array.max() > 255:
        raise ValueError(f'palette colours must be in [0, 255], got values in [{array.min()}, {array.max()}]')
    return array.astype(np.uint8)


def as_label_map(label: np.ndarray | torch.Tensor) -> np.ndarray:
    """A 2-D integer numpy label map from ``(H, W)`` or ``(1, H, W)`` arrays or tensors."""
    if isinstance(label, torch.Tensor):
        label = label.detach().cpu().numpy()
    label = np.asarray(label)
    if label.ndim == 3 and label.shape[0] == 1:
        label = label[0]
    if label.ndim != 2:
        raise ValueError(f'a label map must have shape (H, W) or (1, H, W), got {label.shape}')
    if not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f'a label map must hold integer class ids, got dtype {label.dtype}')
    return label.astype(np.int64, copy=False)


def check_label_ids(label: np.ndarray, num_colors: int, ignore_index: int | None) -> np.ndarray:
    """The boolean mask of valid (non-ignored) pixels; raises on ids the palette cannot colour."""
    valid = label != ignore_index if ignore_index is not None else np.ones(label.shape, dtype=bool)
    bad = np.unique(label[valid & ((label < 0) | (label >= num_colors))])
    if bad.size:
        raise ValueError(
            f'label values {bad[:10].tolist()} have no colour: the palette has {num_colors} entries '
            f'(ids 0..{num_colors - 1}) and ignore_index is {ignore_index}'
        )
    return valid


def colorize(
    label: np.ndarray | torch.Tensor,
    palette: PaletteLike,
    ignore_index: int | None = IGNORE_INDEX,
    ignore_color: Sequence[int] = IGNORE_COLOR,
) -> np.ndarray:
    """Colour a label map with a palette.

    Args:
        label: ``(H, W)`` or ``(1, H, W)`` integer class ids.
        palette: Anything :func:`get_palette` accepts.
        ignore_index: Label drawn in ``ignore_color`` (``None``: no ignored label).
        ignore_color: RGB colour of ignored pixels; black by default.

    Returns:
        ``(H, W, 3)`` uint8 RGB image.

    Raises:
        ValueError: A label that is neither ``ignore_index`` nor a palette index.
    """
    colors = get_palette(palette)
    label = as_label_map(label)
    valid = check_label_ids(label, len(colors), ignore_index)
    out = np.empty((*label.shape, 3), dtype=np.uint8)
    out[...] = np.asarray(ignore_color, dtype=np.uint8)
    out[valid] = colors[label[valid]]
    return out


def save_palette_png(
    label: np.ndarray | torch.Tensor,
    path: str | os.PathLike,
    palette: PaletteLike,
    ignore_index: int | None = IGNORE_INDEX,
    ignore_color: Sequence[int] = IGNORE_COLOR,
) -> None:
    """Write a label map as an indexed PNG: pixel values are the class ids, the palette colours them.

    The file reads back as ids with Pillow (``np.array(Image.open(path))``) and as colours
    with OpenCV, like VOC's masks. It is written to a temporary file in the same folder and
    renamed, so a reader never sees a half-written PNG.

    Args:
        label: ``(H, W)`` or ``(1, H, W)`` integer class ids in ``0..255``.
        path: Output ``.png`` path; missing folders are created.
        palette: Anything :func:`get_palette` accepts (at most 256 colours are used).
        ignore_index: Label coloured with ``ignore_color`` in the PNG palette.
        ignore_color: RGB colour of ``ignore_index``.

    Raises:
        ValueError: A label outside the palette (and not ``ignore_index``), or outside ``0..255``.
    """
    colors = get_palette(palette)[:256]
    label = as_label_map(label)
    check_label_ids(label, len(colors), ignore_index)
    if label.min(initial=0) < 0 or label.max(initial=0) > 255:
        raise ValueError(f'a palette PNG holds ids 0..255, got values in [{label.min()}, {label.max()}]')
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(colors)] = colors
    if ignore_index is not None and 0 <= ignore_index < 256:
        table[ignore_index] = ignore_color
    height, width = label.shape
    image = Image.frombytes('P', (width, height), np.ascontiguousarray(label, dtype=np.uint8).tobytes())
    image.putpalette(table.ravel().tolist())

    with atomic_open(path) as file:
        image.save(file, format='PNG')
