"""Scale 16-bit (and float) images to the 0..255 range the pipelines and models expect.

Every transform after the loader (photometric distortion, normalisation by the ImageNet
``mean``/``std`` of the data preprocessor) works in 8-bit units, so the image loaders map
deeper data onto 0..255 by its real range: ``bit_depth=N`` divides by ``2**N - 1``,
``value_range=(low, high)`` maps ``low`` to 0 and ``high`` to 255 and clips outside (a
window, e.g. for CT or a reflectance range). Without either, an integer image is scaled by
the smallest standard depth (10, 12, 14 or 16 bits) that holds its maximum, with a warning
once per assumed depth; float images need ``value_range``. 8-bit images are never changed.
"""

import warnings

import numpy as np

from segtools.errors import ConfigError

from ..validation import DatasetError

STANDARD_BIT_DEPTHS = (10, 12, 14, 16)
# Depths already announced by a warning, per process (a dataloader worker warns once itself).
_WARNED_DEPTHS: set[int] = set()


def check_intensity_args(
    bit_depth: int | None, value_range: tuple[float, float] | None, owner: str
) -> tuple[float, float] | None:
    """Validate a loader's ``bit_depth`` / ``value_range`` and return the explicit range, if any.

    Args:
        bit_depth: Bits of the data (1..16), or ``None``.
        value_range: ``(low, high)`` with ``low < high``, or ``None``.
        owner: The transform, for messages.

    Returns:
        ``(low, high)`` for ``value_range``, ``None`` otherwise.

    Raises:
        ConfigError: Both are set, or a value is out of range.
    """
    if bit_depth is not None and value_range is not None:
        raise ConfigError(
            f'{owner}: set bit_depth={bit_depth} or value_range={value_range}, not both '
            '(bit_depth=N is value_range=(0, 2**N - 1))'
        )
    if bit_depth is not None and (isinstance(bit_depth, bool) or not isinstance(bit_depth, int)):
        raise ConfigError(f'{owner}: bit_depth must be an int in 1..16, got {bit_depth!r}')
    if bit_depth is not None and not 1 <= bit_depth <= 16:
        raise ConfigError(f'{owner}: bit_depth must be in 1..16, got {bit_depth}')
    if value_range is None:
        return None
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError) as err:
        raise ConfigError(f'{owner}: value_range must be a pair (low, high) of numbers, got {value_range!r}') from err
    if not np.isfinite([low, high]).all() or not low < high:
        raise ConfigError(f'{owner}: value_range must be (low, high) with low < high, got {value_range!r}')
    return low, high


def assumed_bit_depth(max_value: int) -> int | None:
    """The smallest of :data:`STANDARD_BIT_DEPTHS` whose range holds ``max_value`` (``None`` if none does)."""
    return next((depth for depth in STANDARD_BIT_DEPTHS if max_value < 2**depth), None)


def to_8bit_range(
    img: np.ndarray,
    source: str,
    bit_depth: int | None = None,
    value_range: tuple[float, float] | None = None,
    to_float32: bool = False,
) -> np.ndarray:
    """Map a decoded image onto 0..255; an 8-bit image is returned unchanged.

    Args:
        img: The decoded image, ``(H, W)`` or ``(H, W, C)``, any dtype.
        source: The file (or "image array"), for messages.
        bit_depth: Bits the data uses; a value above ``2**bit_depth - 1`` raises.
        value_range: ``(low, high)`` mapped to ``(0, 255)``; values outside are clipped.
        to_float32: Return float32 (keeps the finer steps of deep data); else round to uint8.

    Returns:
        The image, same shape: ``img`` itself if it is uint8, else uint8 (or float32) in 0..255.

    Raises:
        DatasetError: Values exceed ``bit_depth``, are negative without ``value_range``,
            exceed 16 bits, or are floats without ``value_range``; the message names
            ``source``, the values and the argument to set.
    """
    if img.dtype == np.uint8:
        return img
    if value_range is not None:
        low, high = value_range
        scaled = (img.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
        scaled = np.clip(scaled, 0, 255)
    else:
        depth = _integer_depth(img, source, bit_depth)
        scaled = img.astype(np.float32) * np.float32(255.0 / (2**depth - 1))
    return scaled.astype(np.float32) if to_float32 else np.rint(scaled).astype(np.uint8)


def _integer_depth(img: np.ndarray, source: str, bit_depth: int | None) -> int:
    """The bit depth to scale an integer image by: ``bit_depth``, else assumed from its maximum (warned)."""
    hint = 'set bit_depth=N or value_range=(low, high) in the image loader (LoadImageFromFile) of the config'
    if not np.issubdtype(img.dtype, np.integer):
        low, high = (float(img.min()), float(img.max())) if img.size else (0.0, 0.0)
        raise DatasetError(
            f'{source}: a {img.dtype} image with values in [{low:g}, {high:g}]; floating-point data has no bit depth '
            'to scale by: set value_range=(low, high) in the image loader (LoadImageFromFile) of the config.'
        )
    low, high = (int(img.min()), int(img.max())) if img.size else (0, 0)
    if low < 0:
        raise DatasetError(f'{source}: a signed {img.dtype} image with values in [{low}, {high}]; {hint}.')
    if bit_depth is not None:
        if high >= 2**bit_depth:
            raise DatasetError(
                f'{source}: values up to {high} do not fit bit_depth={bit_depth} (0..{2**bit_depth - 1}); '
                f'set the depth the data uses (e.g. bit_depth={assumed_bit_depth(high) or 16}) or value_range.'
            )
        return bit_depth
    depth = assumed_bit_depth(high)
    if depth is None:
        raise DatasetError(f'{source}: a {img.dtype} image with values up to {high}, beyond 16 bits; {hint}.')
    if depth not in _WARNED_DEPTHS:
        _WARNED_DEPTHS.add(depth)
        warnings.warn(
            f'{source}: a {8 * img.dtype.itemsize}-bit image (max value {high}) and no bit_depth or value_range: '
            f'assuming {depth}-bit data (0..{2**depth - 1} -> 0..255), the smallest of '
            f'{"/".join(map(str, STANDARD_BIT_DEPTHS))} bits that holds it. Images whose maximum needs another '
            f'depth are scaled differently; {hint} (e.g. bit_depth={depth}) to scale every image the same. '
            'Warned once per assumed depth.',
            UserWarning,
            stacklevel=3,
        )
    return depth
