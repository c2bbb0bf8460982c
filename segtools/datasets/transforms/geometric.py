"""Geometric transforms: resize, crop, pad, flip and rotate image and label maps together.

Every label map listed in ``results['seg_fields']`` moves with the image and is
resampled with nearest-neighbour interpolation, so labels are never blended.
Randomness comes from a seeded :class:`numpy.random.Generator` per transform
(:class:`~segtools.datasets.transforms.rng.TransformRNG`), never from the global
``np.random`` state.
"""

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import RandomFlip as MMCVRandomFlip
from mmcv.transforms import RandomResize as MMCVRandomResize
from mmcv.transforms.utils import cache_randomness
from mmengine.utils import is_seq_of, is_tuple_of

from segtools.constants import IGNORE_INDEX
from segtools.registry import TRANSFORMS

from .rng import TransformRNG


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f'{name} must be a positive int or a (h, w) pair of positive ints, got {value!r}')
    return pair


def _seg_keys(results: dict) -> list[str]:
    return [key for key in results.get('seg_fields', []) if results.get(key) is not None]


@TRANSFORMS.register_module()
class RandomResize(MMCVRandomResize):
    """mmcv's ``RandomResize`` drawing its scale from a seeded generator.

    With ``scale=(w, h)`` and ``ratio_range=(lo, hi)`` the target is
    ``(int(w * r), int(h * r))``, ``r ~ U(lo, hi)``; with two scales the edges
    are random integers between them. The resize itself is mmcv's ``Resize``
    (``keep_ratio`` etc. are forwarded), which resizes ``gt_seg_map`` nearest.

    Args:
        scale: ``(w, h)`` base scale, or two ``(w, h)`` bounds.
        ratio_range: ``(min_ratio, max_ratio)`` multiplying a single scale.
        resize_type: Registered resize transform to apply.
        seed: Seed of this transform's generator.
        **resize_kwargs: Forwarded to the resize transform (e.g. ``keep_ratio=True``).
    """

    def __init__(
        self,
        scale: tuple[int, int] | list[tuple[int, int]],
        ratio_range: tuple[float, float] | None = None,
        resize_type: str = 'Resize',
        seed: int | None = None,
        **resize_kwargs,
    ) -> None:
        super().__init__(scale=scale, ratio_range=ratio_range, resize_type=resize_type, **resize_kwargs)
        self.rng = TransformRNG(seed)

    @cache_randomness
    def _random_scale(self, rng: np.random.Generator) -> tuple[int, int]:
        if is_tuple_of(self.scale, int):
            if self.ratio_range is None or len(self.ratio_range) != 2 or self.ratio_range[0] > self.ratio_range[1]:
                raise ValueError(f'RandomResize with one scale needs ratio_range=(lo, hi), got {self.ratio_range!r}')
            ratio = rng.uniform(*self.ratio_range)
            return int(self.scale[0] * ratio), int(self.scale[1] * ratio)
        if is_seq_of(self.scale, tuple) and len(self.scale) == 2:
            (w0, h0), (w1, h1) = self.scale
            return (
                int(rng.integers(min(w0, w1), max(w0, w1), endpoint=True)),
                int(rng.integers(min(h0, h1), max(h0, h1), endpoint=True)),
            )
        raise ValueError(f'RandomResize scale must be (w, h) or two (w, h) tuples, got {self.scale!r}')

    def transform(self, results: dict) -> dict:
        results['scale'] = self._random_scale(self.rng(results))
        self.resize.scale = results['scale']
        return self.resize(results)


@TRANSFORMS.register_module()
class EncodingRandomResize(BaseTransform):
    """PyTorch-Encoding's training resize: random integer long side, aspect kept.

    The long side is drawn uniformly among the integers in
    ``[int(lo * base_size), int(hi * base_size)]`` (520 -> 260..1040); the short
    side is ``int(short * long / old_long + 0.5)``. The image is resized
    bilinearly, every label map nearest.

    Args:
        base_size: Base long side.
        ratio_range: ``(lo, hi)`` multiplying ``base_size``.
        seed: Seed of this transform's generator.
    """

    def __init__(
        self, base_size: int = 520, ratio_range: tuple[float, float] = (0.5, 2.0), seed: int | None = None
    ) -> None:
        super().__init__()
        low, high = int(base_size * ratio_range[0]), int(base_size * ratio_range[1])
        if not 0 < low <= high:
            raise ValueError(f'EncodingRandomResize needs 0 < {ratio_range[0]}*base_size <= {ratio_range[1]}*base_size')
        self.base_size = base_size
        self.ratio_range = tuple(ratio_range)
        self.long_range = (low, high)
        self.rng = TransformRNG(seed)

    def transform(self, results: dict) -> dict:
        long_side = int(self.rng(results).integers(*self.long_range, endpoint=True))
        h, w = results['img'].shape[:2]
        if h > w:
            new_h, new_w = long_side, int(w * long_side / h + 0.5)
        else:
            new_h, new_w = int(h * long_side / w + 0.5), long_side
        results['img'] = mmcv.imresize(results['img'], (new_w, new_h), interpolation='bilinear')
        for key in _seg_keys(results):
            results[key] = mmcv.imresize(results[key], (new_w, new_h), interpolation='nearest')
        results['img_shape'] = (new_h, new_w)
        results['scale'] = (new_w, new_h)
        results['scale_factor'] = (new_w / w, new_h / h)
        results['keep_ratio'] = True
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(base_size={self.base_size}, ratio_range={self.ratio_range}, rng={self.rng})'


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Random crop of image and label maps, optionally limiting one class's share.

    The window may be smaller than ``crop_size`` when the image is; padding is
    left to ``Pad`` or the data preprocessor. With ``cat_max_ratio < 1`` up to
    10 windows are tried and the first one holding more than one non-ignore
    class, whose largest class covers less than ``cat_max_ratio`` of the
    non-ignore pixels, is kept; after 10 failures the next window is used
    unchecked (mmseg's rule).

    Args:
        crop_size: ``(h, w)`` or an int for a square.
        cat_max_ratio: Largest share one class may take in the crop.
        ignore_index: Label excluded from the share computation.
        seed: Seed of this transform's generator.
    """

    max_tries = 10

    def __init__(
        self,
        crop_size: int | tuple[int, int],
        cat_max_ratio: float = 1.0,
        ignore_index: int = IGNORE_INDEX,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.crop_size = _pair(crop_size, 'crop_size')
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f'cat_max_ratio must be in (0, 1], got {cat_max_ratio}')
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index
        self.rng = TransformRNG(seed)

    def _window(self, shape: tuple[int, int], rng: np.random.Generator) -> tuple[int, int, int, int]:
        margin_h = max(shape[0] - self.crop_size[0], 0)
        margin_w = max(shape[1] - self.crop_size[1], 0)
        top = int(rng.integers(0, margin_h, endpoint=True))
        left = int(rng.integers(0, margin_w, endpoint=True))
        return top, min(top + self.crop_size[0], shape[0]), left, min(left + self.crop_size[1], shape[1])

    def _accept(self, seg_map: np.ndarray) -> bool:
        labels, counts = np.unique(seg_map, return_counts=True)
        counts = counts[labels != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def transform(self, results: dict) -> dict:
        rng = self.rng(results)
        img = results['img']
        y0, y1, x0, x1 = self._window(img.shape[:2], rng)
        if self.cat_max_ratio < 1 and results.get('gt_seg_map') is not None:
            for _ in range(self.max_tries):
                if self._accept(results['gt_seg_map'][y0:y1, x0:x1]):
                    break
                y0, y1, x0, x1 = self._window(img.shape[:2], rng)
        results['img'] = img[y0:y1, x0:x1].copy()
        for key in _seg_keys(results):
            results[key] = results[key][y0:y1, x0:x1].copy()
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(crop_size={self.crop_size}, cat_max_ratio={self.cat_max_ratio}, '
            f'ignore_index={self.ignore_index}, rng={self.rng})'
        )


@TRANSFORMS.register_module()
class Pad(BaseTransform):
    """Pad image and label maps at the bottom and right.

    Label maps are padded with ``seg_pad_val`` (the ignore index), never a real
    class: PyTorch-Encoding pads masks with 0, which labels the border as
    background for VOC and COCO. ``img_shape`` keeps the valid size;
    ``pad_shape`` records the padded one.

    Args:
        size: Target ``(h, w)`` (or an int for a square); the image must not exceed it.
        size_divisor: Pad each side up to a multiple of this instead.
        pad_val: Image fill value (scalar or one value per channel).
        seg_pad_val: Label-map fill value.
    """

    def __init__(
        self,
        size: int | tuple[int, int] | None = None,
        size_divisor: int | None = None,
        pad_val: float | tuple[float, ...] = 0,
        seg_pad_val: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        if (size is None) == (size_divisor is None):
            raise ValueError(f'Pad needs exactly one of size and size_divisor, got {size=} and {size_divisor=}')
        self.size = None if size is None else _pair(size, 'size')
        if size_divisor is not None and not (isinstance(size_divisor, int) and size_divisor > 0):
            raise ValueError(f'size_divisor must be a positive int, got {size_divisor!r}')
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def _target(self, shape: tuple[int, int]) -> tuple[int, int]:
        h, w = shape
        if self.size_divisor is not None:
            d = self.size_divisor
            return -(-h // d) * d, -(-w // d) * d
        if h > self.size[0] or w > self.size[1]:
            raise ValueError(f'Pad(size={self.size}) got a larger image of size {(h, w)}; crop or resize it first')
        return self.size

    def transform(self, results: dict) -> dict:
        img = results['img']
        target = self._target(img.shape[:2])
        pad_val = self.pad_val
        if img.ndim == 3:
            # mmcv.impad wants one value per channel as a tuple.
            pad_val = tuple(pad_val) if not np.isscalar(pad_val) else (pad_val,) * img.shape[2]
        results['img'] = mmcv.impad(img, shape=target, pad_val=pad_val)
        for key in _seg_keys(results):
            results[key] = mmcv.impad(results[key], shape=target, pad_val=self.seg_pad_val)
        results['pad_shape'] = results['img'].shape[:2]
        results['pad_fixed_size'] = self.size
        results['pad_size_divisor'] = self.size_divisor
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(size={self.size}, size_divisor={self.size_divisor}, '
            f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})'
        )


@TRANSFORMS.register_module()
class RandomFlip(MMCVRandomFlip):
    """mmcv's ``RandomFlip`` drawing from a seeded generator and flipping every label map.

    mmcv's version flips the image and ``gt_seg_map`` (with ``swap_seg_labels``);
    this one also flips the other keys of ``seg_fields``.

    Args:
        prob: Flip probability, or one per direction.
        direction: ``'horizontal'``, ``'vertical'``, ``'diagonal'`` or a list of them.
        swap_seg_labels: Label pairs exchanged on flipping (left/right parts).
        seed: Seed of this transform's generator.
    """

    def __init__(
        self,
        prob: float | list[float],
        direction: str | list[str] = 'horizontal',
        swap_seg_labels: list[tuple[int, int]] | None = None,
        seed: int | None = None,
    ) -> None:
        # mmcv accepts only floats; ``prob=1`` in a config is a common and harmless spelling.
        prob = [float(p) for p in prob] if isinstance(prob, list | tuple) else float(prob)
        super().__init__(prob=prob, direction=direction, swap_seg_labels=swap_seg_labels)
        self.rng = TransformRNG(seed)

    @cache_randomness
    def _choose_direction(self, rng: np.random.Generator) -> str | None:
        directions = [self.direction] if isinstance(self.direction, str) else list(self.direction)
        if isinstance(self.prob, list):
            probs = list(self.prob)
        else:
            probs = [self.prob / len(directions)] * len(directions)
        probs.append(max(0.0, 1.0 - sum(probs)))
        index = int(rng.choice(len(probs), p=np.asarray(probs) / sum(probs)))
        return directions[index] if index < len(directions) else None

    def _flip_on_direction(self, results: dict) -> None:
        direction = self._choose_direction(self.rng(results))
        results['flip'] = direction is not None
        results['flip_direction'] = direction
        if direction is None:
            return
        self._flip(results)
        for key in _seg_keys(results):
            if key != 'gt_seg_map':
                results[key] = mmcv.imflip(results[key], direction=direction)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, direction={self.direction}, rng={self.rng})'


@TRANSFORMS.register_module()
class RandomRotate(BaseTransform):
    """Rotate image and label maps by a random angle.

    The image is interpolated bilinearly and filled with ``pad_val``; label
    maps nearest, filled with ``seg_pad_val`` (ignore).

    Args:
        prob: Probability of rotating.
        degree: Angle range in degrees; a number ``d`` means ``(-d, d)``.
        pad_val: Image fill value.
        seg_pad_val: Label-map fill value.
        center: Rotation centre ``(x, y)``; ``None`` is the image centre.
        auto_bound: Enlarge the canvas to hold the whole rotated image.
        seed: Seed of this transform's generator.
    """

    def __init__(
        self,
        prob: float,
        degree: float | tuple[float, float],
        pad_val: float = 0,
        seg_pad_val: int = IGNORE_INDEX,
        center: tuple[float, float] | None = None,
        auto_bound: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if isinstance(degree, int | float):
            if degree <= 0:
                raise ValueError(f'degree must be positive, got {degree}')
            degree = (-float(degree), float(degree))
        if len(degree) != 2 or degree[0] > degree[1]:
            raise ValueError(f'degree must be a number or a (min, max) pair, got {degree!r}')
        self.prob = prob
        self.degree = tuple(degree)
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val
        self.center = center
        self.auto_bound = auto_bound
        self.rng = TransformRNG(seed)

    def transform(self, results: dict) -> dict:
        rng = self.rng(results)
        # Both draws always happen so the stream does not depend on the outcome.
        rotate = rng.random() < self.prob
        angle = float(rng.uniform(*self.degree))
        if rotate:
            results['img'] = mmcv.imrotate(
                results['img'], angle, center=self.center, border_value=self.pad_val, auto_bound=self.auto_bound
            )
            for key in _seg_keys(results):
                results[key] = mmcv.imrotate(
                    results[key],
                    angle,
                    center=self.center,
                    border_value=self.seg_pad_val,
                    interpolation='nearest',
                    auto_bound=self.auto_bound,
                )
            results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(prob={self.prob}, degree={self.degree}, pad_val={self.pad_val}, '
            f'seg_pad_val={self.seg_pad_val}, center={self.center}, auto_bound={self.auto_bound}, rng={self.rng})'
        )
