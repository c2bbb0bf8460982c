"""Up-front checks of dataset files, shared by every dataset class and the loading transform.

Bad data in segmentation usually surfaces far from its cause: a label outside
``[0, num_classes)`` becomes a CUDA device-side assert inside the loss, an RGB
colour mask becomes a shape error in the collate function, a truncated JPEG
becomes ``NoneType has no attribute shape`` in a worker. The functions here
turn each of those into a :class:`DatasetError` that names the file, the
offending value and what was expected, so the user can act on it.

Datasets call :func:`validate_seg_sample` on a small, evenly spaced sample of
their entries when they are built (see ``BaseSegDataset``); the loading
transforms decode with the same functions (:func:`read_mask` for label maps,
:func:`decode_image` for images), so a file that passes the check loads the
same way in training, and call the cheap per-array checks
(:func:`check_same_size`, :func:`check_label_values`) on every sample.
"""

import io
from collections.abc import Mapping, Sequence

import cv2
import mmcv
import numpy as np
from mmcv.image.io import imread_flags
from mmengine import fileio
from PIL import Image

from segtools.constants import IGNORE_INDEX
from segtools.errors import SegtoolsError

# How many offending values / file names an error message lists before it says "...".
_MAX_LISTED = 10


class DatasetError(SegtoolsError, ValueError):
    """A dataset file or folder does not have the content segtools expects."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset folder, split file or sample file is missing or empty.

    Subclasses both :class:`DatasetError` and :class:`FileNotFoundError`, so
    callers may catch either.
    """


def format_values(values: Sequence | np.ndarray, limit: int = _MAX_LISTED) -> str:
    """Render at most ``limit`` values as ``[a, b, c, ... (N in total)]``."""
    values = list(values)
    shown = ', '.join(str(v.tolist() if isinstance(v, np.generic | np.ndarray) else v) for v in values[:limit])
    if len(values) > limit:
        return f'[{shown}, ... ({len(values)} in total)]'
    return f'[{shown}]'


def layout_hint(layout: str | None, converter: str | None) -> str:
    """The "what to do" tail of a missing-data error: the expected layout and the converter to run."""
    hint = ''
    if layout:
        hint += f'\nExpected layout:\n{layout.rstrip()}'
    if converter:
        script = f'tools/dataset_converters/{converter}.py'
        hint += f'\nRun `python {script} --help` to build this layout from the official data.'
    return hint


def resolve_num_samples(validate: bool | Mapping | None) -> int:
    """Turn a dataset's ``validate`` argument into the number of samples to read (0 = off).

    Args:
        validate: ``True``/``None`` for the default (16 samples), ``False`` to skip,
            or ``dict(num_samples=N)``.

    Returns:
        The number of samples to decode and check; 0 disables the sampled check.
    """
    default = 16
    if validate is None or validate is True:
        return default
    if validate is False:
        return 0
    if isinstance(validate, Mapping):
        unknown = set(validate) - {'num_samples'}
        if unknown:
            raise TypeError(f'validate got unknown keys {sorted(unknown)}; the only key is num_samples')
        num = validate.get('num_samples', default)
        if not isinstance(num, int) or isinstance(num, bool) or num < 0:
            raise ValueError(f'validate.num_samples must be a non-negative int, got {num!r}')
        return num
    raise TypeError(f'validate must be a bool or dict(num_samples=N), got {validate!r}')


def sample_indices(length: int, num_samples: int) -> list[int]:
    """Evenly spaced indices into a dataset of ``length`` entries (deterministic, no RNG).

    Spreading the sample over the whole list catches a bad sub-folder (one
    Cityscapes city, one SBD batch) that a prefix would miss.
    """
    if length <= 0 or num_samples <= 0:
        return []
    if num_samples >= length:
        return list(range(length))
    return sorted({int(i) for i in np.linspace(0, length - 1, num_samples).round()})


def check_image_decoded(img: np.ndarray | None, path: str) -> np.ndarray:
    """Raise if a decoder returned ``None`` (unreadable, truncated or not an image).

    Args:
        img: What ``mmcv.imfrombytes``/``cv2.imdecode`` returned.
        path: The file it was read from, for the message.

    Returns:
        ``img``, unchanged.
    """
    if img is None:
        raise DatasetError(
            f'{path}: the image could not be decoded (the file is truncated, corrupt or not an image). '
            'Re-download or re-extract it, or drop it from the split file.'
        )
    return img


def _fetch(path: str, backend_args: dict | None, what: str) -> bytes:
    """The bytes of ``path``; a missing or empty file raises naming it (``what``: "image", ...)."""
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise DatasetNotFoundError(f'{path}: {what} not found') from err
    if len(data) == 0:
        raise DatasetError(f'{path}: the {what} is empty (0 bytes)')
    return data


def decode_image(data: bytes, path: str, color_type: str = 'color', backend: str = 'cv2') -> np.ndarray:
    """Decode image bytes as mmcv's ``LoadImageFromFile`` does, but keep 16-bit depth.

    The one image decoder of segtools (the dataset check and the loading transforms call it).
    8-bit files give exactly what :func:`mmcv.imfrombytes` gives for the same ``color_type``
    and ``backend``. OpenCV's colour and grayscale modes convert a 16-bit file to 8 bits by
    keeping the high byte, which scales 12-bit data (MRI, many remote-sensing sensors) down
    256x to 0..15; here OpenCV decodes with ``IMREAD_ANYDEPTH`` added, so a 16-bit file stays
    ``uint16`` (and a 32-bit float TIFF ``float32``) for the loader to scale by its real range
    (see :mod:`segtools.datasets.transforms.intensity`). Pillow converts a 16-bit grayscale
    image to colour by clipping at 255; that combination is refused.

    Args:
        data: The file's bytes.
        path: The file, for messages.
        color_type: mmcv's flag: ``'color'``, ``'grayscale'``, ``'unchanged'``,
            ``'color_ignore_orientation'`` or ``'grayscale_ignore_orientation'``.
        backend: mmcv's decoding backend (``'cv2'``, ``'pillow'``, ``'turbojpeg'``, ``'tifffile'``).

    Returns:
        ``(H, W, 3)`` BGR for colour modes, ``(H, W)`` for grayscale, the stored layout for
        ``'unchanged'``; ``uint8``, or ``uint16`` (``float32``) for 16-bit (float) files.
    """
    if len(data) == 0:
        raise DatasetError(f'{path}: the image file is empty (0 bytes)')
    if backend == 'cv2':
        if color_type not in imread_flags:
            raise ValueError(f'color_type must be one of {sorted(imread_flags)}, got {color_type!r}')
        flag = imread_flags[color_type]
        if flag != cv2.IMREAD_UNCHANGED:  # 'unchanged' keeps the depth already
            flag |= cv2.IMREAD_ANYDEPTH
        return check_image_decoded(cv2.imdecode(np.frombuffer(data, np.uint8), flag), path)
    if backend == 'pillow' and color_type != 'unchanged':
        _refuse_pillow_deep_gray(data, path)
    try:
        img = mmcv.imfrombytes(data, flag=color_type, backend=backend)
    except (OSError, SyntaxError) as err:  # pillow: truncated or unknown format
        raise DatasetError(f'{path}: the image could not be decoded ({err})') from err
    return check_image_decoded(img, path)


def _refuse_pillow_deep_gray(data: bytes, path: str) -> None:
    """Raise for a 16/32-bit grayscale file: Pillow's conversion to colour clips it at 255."""
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            mode = image.mode
    except (OSError, SyntaxError):
        return  # not Pillow's to judge: mmcv raises on decoding
    if mode.startswith('I'):
        raise DatasetError(
            f"{path}: a {mode!r} (16/32-bit grayscale) image, which imdecode_backend='pillow' clips to 0..255 when "
            "it converts it to colour; use the default imdecode_backend='cv2', which keeps the depth and lets "
            'LoadImageFromFile scale it by bit_depth / value_range.'
        )


def read_image(path: str, backend_args: dict | None = None) -> np.ndarray:
    """Read and decode an image the way the loading pipeline does (:func:`decode_image`, cv2, BGR).

    Args:
        path: Image file.
        backend_args: mmengine file backend arguments.

    Returns:
        The image, shape ``(H, W, 3)``, uint8 (uint16 for a 16-bit file).
    """
    return decode_image(_fetch(path, backend_args, 'image file'), path)


def read_mask(path: str, backend_args: dict | None = None) -> np.ndarray:
    """Read a label map as class ids: the one label decoder of the dataset check and ``LoadAnnotations``.

    The file is decoded unchanged with Pillow, so a palette ("P") PNG such as Pascal VOC's
    ``SegmentationClass`` gives its palette indices (the border keeps 255), not the
    colours OpenCV would expand it to; 8-bit grayscale ("L") gives its values, and a 16-bit
    ("I;16") map its values when they are 0..255. A colour or multi-channel map
    (:func:`check_mask_layout`), a float map, or values outside 0..255 raise
    :class:`DatasetError` naming the file and the values.

    Args:
        path: Mask file.
        backend_args: mmengine file backend arguments.

    Returns:
        The class ids, ``(H, W)`` uint8.
    """
    data = _fetch(path, backend_args, 'segmentation map')
    try:
        mask = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
    except (OSError, SyntaxError) as err:  # pillow reports truncation and unknown formats as OSError
        raise DatasetError(f'{path}: the segmentation map could not be decoded ({err})') from err
    mask = check_mask_layout(check_image_decoded(mask, path), path)
    return _as_uint8_ids(mask, path)


def _as_uint8_ids(mask: np.ndarray, path: str) -> np.ndarray:
    """``(H, W)`` integer ids as uint8; values outside 0..255 or a float map raise naming the file."""
    if mask.dtype == np.uint8:
        return mask
    if mask.dtype == bool:  # a 1-bit PNG
        return mask.astype(np.uint8)
    if not np.issubdtype(mask.dtype, np.integer):
        raise DatasetError(
            f'{path}: the segmentation map holds {mask.dtype} values; expected integer class ids. '
            'Save it as an 8-bit grayscale ("L") or palette ("P") PNG of class ids.'
        )
    bad = (mask < 0) | (mask > 255)
    if bad.any():
        raise DatasetError(
            f'{path}: the segmentation map is a {8 * mask.dtype.itemsize}-bit image with values '
            f'{format_values(np.unique(mask[bad]))} outside 0..255; label maps hold 8-bit class ids '
            '(255 = ignore_index). Remap the ids to 0..254 (255 for pixels to ignore) and save the map as an '
            '8-bit grayscale ("L") or palette ("P") PNG.'
        )
    return mask.astype(np.uint8)


def check_mask_layout(mask: np.ndarray, path: str) -> np.ndarray:
    """Require a single-channel index mask; reject colour (RGB) masks.

    Args:
        mask: The decoded map, ``(H, W)``, ``(H, W, 1)`` or ``(H, W, C)``.
        path: Its file, for the message.

    Returns:
        The mask as ``(H, W)``.
    """
    if mask.ndim == 3 and mask.shape[2] == 1:
        return mask[:, :, 0]
    if mask.ndim == 2:
        return mask
    if mask.ndim == 3 and mask.shape[2] == 2:
        raise DatasetError(
            f'{path}: the segmentation map has 2 channels (grayscale or palette plus alpha); expected a '
            'single-channel index mask (H, W) of class ids. Save it without alpha as an 8-bit grayscale ("L") or '
            'palette ("P") PNG.'
        )
    if mask.ndim == 3:
        channels = mask.shape[2]
        colour = mask[:, :, :3]
        if np.array_equal(colour[:, :, 0], colour[:, :, 1]) and np.array_equal(colour[:, :, 0], colour[:, :, 2]):
            raise DatasetError(
                f'{path}: the segmentation map has {channels} identical channels; expected a single-channel '
                'index mask (H, W) of class ids. Save it as 8-bit grayscale ("L") or palette ("P") PNG.'
            )
        # Pillow gave RGB order back as BGR (mmcv convention); report the colours as RGB, as people know them.
        rgb = colour[:, :, ::-1].reshape(-1, 3)
        colours = np.unique(rgb, axis=0)
        raise DatasetError(
            f'{path}: the segmentation map is a {channels}-channel colour image with colours (RGB) '
            f'{format_values([tuple(c.tolist()) for c in colours])}; expected a single-channel index mask (H, W) '
            'whose values are class ids. Convert colours to ids with the palette (the dataset converters do this), '
            'or save the mask as a palette ("P") PNG.'
        )
    raise DatasetError(f'{path}: the segmentation map has shape {mask.shape}; expected (H, W)')


def check_same_size(img_shape: Sequence[int], mask_shape: Sequence[int], img_path: str, seg_map_path: str) -> None:
    """Raise if an image and its mask differ in height or width.

    Args:
        img_shape: ``(H, W, ...)`` of the image.
        mask_shape: ``(H, W, ...)`` of the mask.
        img_path: The image file, for the message.
        seg_map_path: The mask file, for the message.
    """
    if tuple(img_shape[:2]) != tuple(mask_shape[:2]):
        raise DatasetError(
            f'{seg_map_path}: segmentation map is {mask_shape[0]}x{mask_shape[1]} (HxW) but its image {img_path} is '
            f'{img_shape[0]}x{img_shape[1]}; image and mask must have the same size. Check that the pair belongs '
            'together and that the mask was not resized or rotated.'
        )


def map_labels(
    label: np.ndarray, label_map: Mapping[int, int] | None, reduce_zero_label: bool, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Apply ``reduce_zero_label`` then ``label_map``, as the loading transform does (mmseg 1.x order).

    ``reduce_zero_label``: 0 becomes ``ignore_index``, every other value ``v`` becomes
    ``v - 1``, and ``ignore_index`` stays ``ignore_index``. ``label_map`` then sends old
    ids to new ones (values not in the map are left as they are).

    Args:
        label: ``(H, W)`` integer mask.
        label_map: Old id -> new id, or ``None``.
        reduce_zero_label: Whether 0 means "unlabelled".
        ignore_index: The ignore value.

    Returns:
        A new ``(H, W)`` int64 array.
    """
    out = label.astype(np.int64, copy=True)
    if reduce_zero_label:
        ignored = (out == 0) | (out == ignore_index)
        out -= 1
        out[ignored] = ignore_index
    if label_map and out.size:
        # One lookup table instead of a pass per entry: this runs for every training sample.
        keys = np.fromiter(label_map.keys(), dtype=np.int64)
        lut = np.arange(max(int(out.max()), int(keys.max())) + 1, dtype=np.int64)
        lut[keys] = np.fromiter(label_map.values(), dtype=np.int64)
        out = lut[out]
    return out


def check_label_values(
    label: np.ndarray,
    num_classes: int,
    ignore_index: int,
    path: str,
    raw_label: np.ndarray | None = None,
) -> None:
    """Raise if ``label`` holds values outside ``[0, num_classes)`` other than ``ignore_index``.

    Cheap enough for every sample: one comparison pass plus ``np.unique`` on the
    offending pixels only when there are some.

    Args:
        label: ``(H, W)`` mask after any ``reduce_zero_label``/``label_map``.
        num_classes: Number of classes the model predicts.
        ignore_index: Value that marks pixels to ignore.
        path: Mask file, for the message.
        raw_label: The mask as stored in the file, if ``label`` was remapped; the
            message then reports the file's values, which the user can look up.
    """
    bad = ((label < 0) | (label >= num_classes)) & (label != ignore_index)
    if not bad.any():
        return
    source = label if raw_label is None else raw_label
    values = np.unique(source[bad])
    fraction = float(bad.mean())
    hint = (
        'If the masks are 1-based with 0 meaning "unlabelled" (ADE20K, Pascal Context 59), set reduce_zero_label=True; '
        'if they use another id scheme (e.g. Cityscapes labelIds instead of trainIds), remap the ids with a '
        'label_map (pass a class subset in metainfo) or re-run the dataset converter; pixels to skip must be '
        f'{ignore_index} (ignore_index).'
    )
    raise DatasetError(
        f'{path}: segmentation map has values {format_values(values)} ({fraction:.1%} of pixels) outside the class '
        f'range [0, {num_classes - 1}] that are not ignore_index={ignore_index}. {hint}'
    )


def validate_seg_sample(
    data_info: Mapping,
    num_classes: int,
    ignore_index: int,
    backend_args: dict | None = None,
    check_mask: bool = True,
) -> None:
    """Decode one dataset entry and run every check on it.

    Args:
        data_info: An entry of ``BaseSegDataset.load_data_list`` (``img_path``,
            ``seg_map_path``, ``label_map``, ``reduce_zero_label``).
        num_classes: Number of classes after any class subset; 0 skips the value check.
        ignore_index: The ignore value.
        backend_args: mmengine file backend arguments.
        check_mask: ``False`` for test sets without annotations.
    """
    img = read_image(data_info['img_path'], backend_args)
    if not check_mask:
        return
    seg_map_path = data_info['seg_map_path']
    raw = read_mask(seg_map_path, backend_args)
    check_same_size(img.shape, raw.shape, data_info['img_path'], seg_map_path)
    if num_classes <= 0:
        return  # no class list (a bare BaseSegDataset): nothing to compare the values with
    label = map_labels(raw, data_info.get('label_map'), bool(data_info.get('reduce_zero_label')), ignore_index)
    check_label_values(label, num_classes, ignore_index, seg_map_path, raw_label=raw)
