"""Loading transforms: read an image (file or array) and the label map of a sample.

``LoadImageFromFile`` here extends mmcv's (registered under the same name in the segtools
registry, which a config resolves first in the ``'segtools'`` scope): it decodes with
:func:`~segtools.datasets.validation.decode_image`, which keeps 16-bit depth, and scales deep
data to 0..255 by its real range (:mod:`.intensity`). Label maps are read by
:func:`~segtools.datasets.validation.read_mask`, the decoder of the up-front dataset check.
"""

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile

from segtools.constants import IGNORE_INDEX
from segtools.errors import ConfigError
from segtools.registry import TRANSFORMS

from ..validation import check_label_values, check_same_size, decode_image, map_labels, read_mask
from .intensity import check_intensity_args, to_8bit_range

# The only decoder of label maps: Pillow keeps palette indices; OpenCV expands a palette to colours.
MASK_BACKEND = 'pillow'


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Load a semantic-segmentation index mask and remap its labels.

    The mask is read by :func:`~segtools.datasets.validation.read_mask`, the decoder the
    dataset check uses: Pillow, unchanged, so a palette ("P") PNG such as Pascal VOC's
    ``SegmentationClass`` gives its indices (255 = border), an 8-bit ("L") or 16-bit
    ("I;16") map its values; colour masks and values outside 0..255 raise a
    ``DatasetError`` naming the file. Then ``reduce_zero_label`` (0 -> 255, k -> k - 1)
    and ``results['label_map']`` (set by the dataset for class subsets) are applied in
    that order: the label map's keys are indices into the dataset's ``classes``, which for
    a ``reduce_zero_label`` dataset such as ADE20K are the already reduced ids (mmseg's order).

    Required keys: ``seg_map_path``; optional ``label_map``, ``reduce_zero_label``,
    ``ori_shape`` and ``img_path`` (used to check and report sizes), ``num_classes`` and
    ``ignore_index`` (set by ``BaseSegDataset``: labels outside the class range that are
    not ``ignore_index`` raise a ``DatasetError`` naming the file and the values).
    Added keys: ``gt_seg_map`` ``(H, W)`` uint8, ``seg_fields``, ``reduce_zero_label``.

    Args:
        reduce_zero_label: Whether to reduce zero label. ``None`` takes the
            value the dataset put in ``results['reduce_zero_label']`` (default
            False); an explicit value must agree with it.
        imdecode_backend: Accepted for mmseg configs; only ``'pillow'`` (mmseg's default)
            is allowed. Any other backend raises ``ConfigError``: OpenCV would expand
            palette masks into colours, changing the label values.
        backend_args: Arguments of the mmengine file backend.
    """

    def __init__(
        self,
        reduce_zero_label: bool | None = None,
        imdecode_backend: str = MASK_BACKEND,
        backend_args: dict | None = None,
    ) -> None:
        super().__init__()
        if imdecode_backend != MASK_BACKEND:
            raise ConfigError(
                f"LoadAnnotations(imdecode_backend={imdecode_backend!r}): label maps are decoded with 'pillow' "
                'only, the decoder of the dataset check, which keeps the indices of palette PNGs (Pascal VOC); '
                f'{imdecode_backend!r} could expand a palette into colours and change the label values. Remove '
                "imdecode_backend or set it to 'pillow'."
            )
        self.reduce_zero_label = reduce_zero_label
        self.imdecode_backend = imdecode_backend
        self.backend_args = None if backend_args is None else backend_args.copy()

    def transform(self, results: dict) -> dict:
        """Load ``results['seg_map_path']`` into ``results['gt_seg_map']``.

        Args:
            results: The sample dict.

        Returns:
            The same dict with ``gt_seg_map`` ``(H, W)`` uint8 added.
        """
        path = results['seg_map_path']
        mask = read_mask(path, self.backend_args)

        ori_shape = results.get('ori_shape')
        if ori_shape is not None:
            check_same_size(ori_shape, mask.shape, results.get('img_path') or '(an in-memory image)', path)

        dataset_reduce = results.get('reduce_zero_label')
        reduce = self.reduce_zero_label
        if reduce is None:
            reduce = bool(dataset_reduce) if dataset_reduce is not None else False
        elif dataset_reduce is not None and bool(dataset_reduce) != bool(reduce):
            raise ValueError(
                f'LoadAnnotations(reduce_zero_label={reduce}) disagrees with the dataset '
                f'(reduce_zero_label={dataset_reduce}) for {path!r}; set it in one place only'
            )

        raw = mask
        label_map = results.get('label_map')
        if reduce or label_map:
            mask = map_labels(mask, label_map, reduce, IGNORE_INDEX)
            if mask.size and not 0 <= int(mask.min()) <= int(mask.max()) <= 255:
                raise ValueError(f'label_map of {path!r} maps labels outside the uint8 range [0, 255]: {label_map}')
            mask = mask.astype(np.uint8)
        if results.get('num_classes'):  # set by BaseSegDataset: one cheap pass per sample
            check_label_values(mask, results['num_classes'], results.get('ignore_index', IGNORE_INDEX), path, raw)

        results['gt_seg_map'] = mask
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        results['reduce_zero_label'] = bool(reduce)
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(reduce_zero_label={self.reduce_zero_label}, '
            f"imdecode_backend='{self.imdecode_backend}', backend_args={self.backend_args})"
        )


# ``color_type`` values of mmcv's loader that yield 3-channel BGR images.
COLOR_TYPES = ('color', 'color_ignore_orientation')


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """Load an image file like mmcv's ``LoadImageFromFile``, with 16-bit data scaled by its range.

    Same arguments and, for 8-bit files, the same output as mmcv's loader (which this
    subclasses); every config's ``dict(type='LoadImageFromFile', ...)`` resolves to this class
    in the ``'segtools'`` scope. Decoding goes through
    :func:`~segtools.datasets.validation.decode_image`, which keeps 16-bit depth, and an
    unreadable file raises ``DatasetError`` naming it (or returns ``None`` with
    ``ignore_empty``).

    16-bit and float images (MRI, CT, remote-sensing tiles) are scaled to 0..255 by their real
    range, not by OpenCV's 8-bit conversion (which keeps the high byte and so shrinks 12-bit
    data 256x): ``bit_depth=N`` divides by ``2**N - 1`` (a larger value raises),
    ``value_range=(low, high)`` maps ``low`` -> 0 and ``high`` -> 255 and clips outside. With
    neither, an integer image is scaled by the smallest standard depth (10, 12, 14 or 16 bits)
    that holds its maximum and a warning (once per assumed depth) names the file, its maximum
    and the argument to set: a guess per image could scale a dark and a bright slice of one
    scan differently, so set ``bit_depth`` for real data; float images need ``value_range``.
    The result is uint8 (float32 with ``to_float32``, keeping the finer steps of deep data).
    8-bit images are never rescaled.

    Required keys: ``img_path``. Added keys: ``img``, ``img_shape``, ``ori_shape``.

    Args:
        to_float32: Return a float32 image.
        color_type: mmcv's decoding flag (``'color'``, ``'grayscale'``, ``'unchanged'``, ...).
        imdecode_backend: mmcv's decoding backend (``'cv2'``, ``'pillow'``, ...).
        file_client_args: Deprecated mmcv file client arguments.
        ignore_empty: Return ``None`` instead of raising for a missing or unreadable file.
        backend_args: mmengine file backend arguments.
        bit_depth: Bits the data of deeper-than-8-bit images uses (e.g. 12 for most MRI).
        value_range: ``(low, high)`` of deeper-than-8-bit or float images mapped to 0..255.
    """

    def __init__(
        self,
        to_float32: bool = False,
        color_type: str = 'color',
        imdecode_backend: str = 'cv2',
        file_client_args: dict | None = None,
        ignore_empty: bool = False,
        *,
        backend_args: dict | None = None,
        bit_depth: int | None = None,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(
            to_float32=to_float32,
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            file_client_args=file_client_args,
            ignore_empty=ignore_empty,
            backend_args=backend_args,
        )
        self.value_range = check_intensity_args(bit_depth, value_range, type(self).__name__)
        self.bit_depth = bit_depth

    def transform(self, results: dict) -> dict | None:
        """Load ``results['img_path']`` into ``results['img']``.

        Args:
            results: The sample dict.

        Returns:
            The dict with ``img`` ``(H, W, 3)`` (``(H, W)`` for grayscale) uint8 or float32,
            ``img_shape`` and ``ori_shape`` ``(H, W)``; ``None`` for a bad file with ``ignore_empty``.
        """
        filename = results['img_path']
        try:
            if self.file_client_args is not None:
                data = fileio.FileClient.infer_client(self.file_client_args, filename).get(filename)
            else:
                data = fileio.get(filename, backend_args=self.backend_args)
            img = decode_image(data, filename, self.color_type, self.imdecode_backend)
        except Exception:
            if self.ignore_empty:
                return None
            raise
        img = to_8bit_range(img, filename, self.bit_depth, self.value_range, self.to_float32)
        if self.to_float32:
            img = img.astype(np.float32, copy=False)
        results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, bit_depth={self.bit_depth}, value_range={self.value_range})'


@TRANSFORMS.register_module()
class LoadImageFromNDArray(BaseTransform):
    """Loads an image that is already in memory, like ``LoadImageFromFile`` loads a file.

    The array is taken as OpenCV/mmcv reads images: BGR channel order, ``(H, W, 3)``,
    or grayscale ``(H, W)`` / ``(H, W, 1)``, of any depth (e.g. ``cv2.imread(path,
    cv2.IMREAD_UNCHANGED)`` of a 16-bit PNG). It is converted to what the config's file
    loader would produce for the same picture, so arrays and files give the same inputs:
    colour modes replicate a grayscale array to 3 channels (and drop an alpha channel),
    ``'grayscale'`` converts BGR to one channel, ``'unchanged'`` keeps the array; then
    deep data is scaled by ``bit_depth`` / ``value_range`` exactly as ``LoadImageFromFile``
    scales a file (see there), with the same warning when neither is set.

    Reads ``results['img']``; sets ``img``, ``img_path`` (``None``), ``img_shape`` and
    ``ori_shape`` (both ``(H, W)``).

    Args:
        color_type: ``color_type`` of the config's ``LoadImageFromFile``.
        to_float32: Convert the image to float32, as the file loader's option does.
        bit_depth: ``bit_depth`` of the config's ``LoadImageFromFile``.
        value_range: ``value_range`` of the config's ``LoadImageFromFile``.
    """

    def __init__(
        self,
        color_type: str = 'color',
        to_float32: bool = False,
        bit_depth: int | None = None,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__()
        self.color_type = color_type
        self.to_float32 = to_float32
        self.value_range = check_intensity_args(bit_depth, value_range, type(self).__name__)
        self.bit_depth = bit_depth

    def transform(self, results: dict) -> dict:
        """Take ``results['img']`` as the image; see the class docstring."""
        img = np.asarray(results['img'])
        source = f'image array of shape {img.shape}'
        if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)) or img.size == 0:
            raise ValueError(f'an image array must have shape (H, W) or (H, W, 1|3|4), got {img.shape}')
        if self.color_type in COLOR_TYPES:
            if img.ndim == 2 or img.shape[2] == 1:
                img = np.repeat(img.reshape(*img.shape[:2], 1), 3, axis=2)
            img = img[..., :3]
        elif self.color_type == 'grayscale' and img.ndim == 3:
            img = (
                img[..., 0]
                if img.shape[2] == 1
                else cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_BGR2GRAY)
            )
        img = to_8bit_range(img, source, self.bit_depth, self.value_range, self.to_float32)
        if self.to_float32:
            img = img.astype(np.float32, copy=False)
        results.update(img=img, img_path=None, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(color_type={self.color_type!r}, to_float32={self.to_float32}, '
            f'bit_depth={self.bit_depth}, value_range={self.value_range})'
        )
