"""Loading transforms: read the label map of a sample.

Images are read by mmcv's ``LoadImageFromFile``, which the segtools
``TRANSFORMS`` registry resolves through its mmcv parent; only the annotation
loader is segmentation specific.
"""

import cv2
import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from segtools.registry import TRANSFORMS

from ..validation import check_label_values, map_labels

IGNORE_INDEX = 255


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Load a semantic-segmentation index mask and remap its labels.

    The mask is decoded unchanged (an index PNG, one label id per pixel), then
    ``reduce_zero_label`` (0 -> 255, k -> k - 1) and ``results['label_map']``
    (set by the dataset for class subsets) are applied in that order: the
    label map's keys are indices into the dataset's ``classes``, which for a
    ``reduce_zero_label`` dataset such as ADE20K are the already reduced ids
    (mmseg's order).

    Required keys: ``seg_map_path``; optional ``label_map``, ``reduce_zero_label``,
    ``ori_shape`` and ``img_path`` (used to check and report sizes), ``num_classes`` and
    ``ignore_index`` (set by ``BaseSegDataset``: labels outside the class range that are
    not ``ignore_index`` raise a ``DatasetError`` naming the file and the values).
    Added keys: ``gt_seg_map`` ``(H, W)`` uint8, ``seg_fields``, ``reduce_zero_label``.

    Args:
        reduce_zero_label: Whether to reduce zero label. ``None`` takes the
            value the dataset put in ``results['reduce_zero_label']`` (default
            False); an explicit value must agree with it.
        imdecode_backend: Backend of :func:`mmcv.imfrombytes` (``'cv2'``,
            ``'pillow'``, ...).
        backend_args: Arguments of the mmengine file backend.
    """

    def __init__(
        self,
        reduce_zero_label: bool | None = None,
        imdecode_backend: str = 'cv2',
        backend_args: dict | None = None,
    ) -> None:
        super().__init__()
        self.reduce_zero_label = reduce_zero_label
        self.imdecode_backend = imdecode_backend
        self.backend_args = None if backend_args is None else backend_args.copy()

    def _read_mask(self, path: str) -> np.ndarray:
        try:
            data = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(f'segmentation mask {path!r} does not exist') from err
        mask = mmcv.imfrombytes(data, flag='unchanged', backend=self.imdecode_backend)
        if mask is None:
            raise ValueError(f'segmentation mask {path!r} could not be decoded (empty, truncated or not an image)')
        if mask.ndim == 3:
            if mask.shape[2] == 1 or all(np.array_equal(mask[..., 0], mask[..., c]) for c in range(1, mask.shape[2])):
                # A grey index mask saved with identical channels is still an index mask.
                mask = mask[..., 0]
            else:
                colours = np.unique(mask.reshape(-1, mask.shape[2]), axis=0)[:4].tolist()
                raise ValueError(
                    f'segmentation mask {path!r} is a {mask.shape[2]}-channel colour image of shape {mask.shape} '
                    f'(e.g. colours {colours}); expected a single-channel index mask with one class id per pixel. '
                    'Convert the palette colours to class ids (see tools/dataset_converters/) first.'
                )
        if mask.ndim != 2:
            raise ValueError(f'segmentation mask {path!r} has shape {mask.shape}; expected (H, W)')
        if mask.dtype != np.uint8:
            if mask.size and (mask.min() < 0 or mask.max() > 255):
                raise ValueError(
                    f'segmentation mask {path!r} has dtype {mask.dtype} with values in '
                    f'[{mask.min()}, {mask.max()}]; expected uint8 class ids in [0, 255]'
                )
            mask = mask.astype(np.uint8)
        return mask

    def transform(self, results: dict) -> dict:
        """Load ``results['seg_map_path']`` into ``results['gt_seg_map']``.

        Args:
            results: The sample dict.

        Returns:
            The same dict with ``gt_seg_map`` ``(H, W)`` uint8 added.
        """
        path = results['seg_map_path']
        mask = self._read_mask(path)

        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(mask.shape) != tuple(ori_shape[:2]):
            raise ValueError(
                f'segmentation mask {path!r} has size {mask.shape} but its image '
                f'{results.get("img_path")!r} has size {tuple(ori_shape[:2])}; they must match'
            )

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
class LoadImageFromNDArray(BaseTransform):
    """Loads an image that is already in memory, like ``LoadImageFromFile`` loads a file.

    The array is taken as OpenCV/mmcv reads images: BGR channel order, ``(H, W, 3)``,
    or grayscale ``(H, W)`` / ``(H, W, 1)``. It is converted to what the config's file
    loader would produce for the same picture, so arrays and files give the same inputs:
    colour modes replicate a grayscale array to 3 channels (and drop an alpha channel),
    ``'grayscale'`` converts BGR to one channel, ``'unchanged'`` keeps the array.

    Reads ``results['img']``; sets ``img``, ``img_path`` (``None``), ``img_shape`` and
    ``ori_shape`` (both ``(H, W)``).

    Args:
        color_type: ``color_type`` of the config's ``LoadImageFromFile``.
        to_float32: Convert the image to float32, as the file loader's option does.
    """

    def __init__(self, color_type: str = 'color', to_float32: bool = False) -> None:
        super().__init__()
        self.color_type = color_type
        self.to_float32 = to_float32

    def transform(self, results: dict) -> dict:
        img = np.asarray(results['img'])
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
        if self.to_float32:
            img = img.astype(np.float32)
        results.update(img=img, img_path=None, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(color_type={self.color_type!r}, to_float32={self.to_float32})'
