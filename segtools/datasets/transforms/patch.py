"""Cut a fixed-size patch around a given point (patch classification on whole images)."""

import numpy as np
from mmcv.transforms import BaseTransform

from segtools.constants import IGNORE_INDEX
from segtools.registry import TRANSFORMS

from .rng import TransformRNG


@TRANSFORMS.register_module()
class CropAroundCenter(BaseTransform):
    """Crops ``crop_size`` pixels centred on ``results['crop_center']``, padding outside the image.

    Without a ``crop_center`` (an image given to the inference API) the image's own centre is used.

    The centre may be jittered by up to ``max_shift`` pixels in each direction (uniform integers
    from the sample's generator, see :mod:`~segtools.datasets.transforms.rng`), which keeps the
    labelled point inside the patch while the network cannot rely on it sitting exactly in the
    middle. Label maps in ``seg_fields`` are cut alike (padded with ``seg_pad_val``).

    Required keys: ``img``; optional ``crop_center`` ``(y, x)``. Modified: ``img``, ``img_shape``.

    Args:
        crop_size: ``(h, w)`` or one int for a square.
        max_shift: Largest jitter of the centre in pixels (0 for none, e.g. at test time).
        pad_val: Image value outside the source image.
        seg_pad_val: Label value outside the source image.
        seed: The transform's own seed (see ``TransformRNG``).
    """

    def __init__(
        self,
        crop_size: int | tuple[int, int],
        max_shift: int = 0,
        pad_val: int = 0,
        seg_pad_val: int = IGNORE_INDEX,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f'CropAroundCenter: crop_size must be a positive int or (h, w), got {crop_size!r}')
        if max_shift < 0:
            raise ValueError(f'CropAroundCenter: max_shift must be >= 0, got {max_shift}')
        self.crop_size, self.max_shift = size, max_shift
        self.pad_val, self.seg_pad_val = pad_val, seg_pad_val
        self.rng = TransformRNG(seed)

    def _cut(self, array: np.ndarray, top: int, left: int, fill: int) -> np.ndarray:
        height, width = self.crop_size
        out = np.full((height, width, *array.shape[2:]), fill, dtype=array.dtype)
        src_top, src_left = max(top, 0), max(left, 0)
        src_bottom, src_right = min(top + height, array.shape[0]), min(left + width, array.shape[1])
        if src_bottom > src_top and src_right > src_left:
            out[src_top - top : src_bottom - top, src_left - left : src_right - left] = array[
                src_top:src_bottom, src_left:src_right
            ]
        return out

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        y, x = (int(v) for v in results.get('crop_center', (height // 2, width // 2)))
        if self.max_shift:
            dy, dx = self.rng(results).integers(-self.max_shift, self.max_shift, size=2, endpoint=True)
            y, x = y + int(dy), x + int(dx)
        top, left = y - self.crop_size[0] // 2, x - self.crop_size[1] // 2
        results['img'] = self._cut(results['img'], top, left, self.pad_val)
        for key in results.get('seg_fields', []):
            if results.get(key) is not None:
                results[key] = self._cut(results[key], top, left, self.seg_pad_val)
        results['img_shape'] = self.crop_size
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(crop_size={self.crop_size}, max_shift={self.max_shift}, rng={self.rng})'
