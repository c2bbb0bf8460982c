"""Recognition (ImageNet-style) transforms from PyTorch-Encoding's training recipe.

``ERandomCrop`` (Inception-style random-area crop), ``ECenterCrop`` (centre
crop with a 32-pixel margin) and ``RandAugment``. Images are BGR ``(H, W, 3)``
uint8 as mmcv loads them; label maps in ``seg_fields``, if any, follow the
crops with nearest interpolation.
"""

import math
from collections.abc import Callable

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageEnhance, ImageOps

from segtools.datasets.transforms.rng import TransformRNG
from segtools.registry import TRANSFORMS


def _crop_resize(results: dict, box: tuple[int, int, int, int], size: int, interpolation: str) -> dict:
    """Crop ``(top, left, height, width)`` from image and label maps, then resize to ``size x size``."""
    top, left, height, width = box
    results['img'] = mmcv.imresize(
        results['img'][top : top + height, left : left + width], (size, size), interpolation=interpolation
    )
    for key in results.get('seg_fields', []):
        if results.get(key) is not None:
            seg = results[key][top : top + height, left : left + width]
            results[key] = mmcv.imresize(seg, (size, size), interpolation='nearest')
    results['img_shape'] = (size, size)
    return results


def center_crop_box(height: int, width: int, crop_size: int, margin: int = 32) -> tuple[int, int, int, int]:
    """Centre square of side ``crop_size / (crop_size + margin) * min(height, width)``.

    Returns:
        ``(top, left, side, side)``.
    """
    side = max(1, int(round(crop_size / (crop_size + margin) * min(height, width))))
    return int(round((height - side) / 2)), int(round((width - side) / 2)), side, side


@TRANSFORMS.register_module()
class ECenterCrop(BaseTransform):
    """PyTorch-Encoding's evaluation crop: centre square with a margin, bicubic resize.

    The square's side is ``crop_size / (crop_size + 32)`` of the short side
    (224 -> 87.5 %), then it is resized to ``crop_size x crop_size``.

    Args:
        crop_size: Output side.
        interpolation: Image interpolation of the resize.
    """

    def __init__(self, crop_size: int = 224, interpolation: str = 'bicubic') -> None:
        super().__init__()
        self.crop_size = crop_size
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        return _crop_resize(results, center_crop_box(h, w, self.crop_size), self.crop_size, self.interpolation)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size}, interpolation={self.interpolation!r})'


@TRANSFORMS.register_module()
class ERandomCrop(BaseTransform):
    """Inception-style random-area crop (PyTorch-Encoding's ``ERandomCrop``).

    Up to ``max_attempts`` times: draw an aspect ratio ``r ~ U(ratio_range)``
    and a height between the ones giving ``area_range`` of the image (clamped
    to fit), width ``round(h * r)``; accept a window whose area is within
    ``area_range`` and at least ``min_covered`` of the image, place it
    uniformly and resize it to ``crop_size``. A window equal to the whole image
    or ten failures fall back to :class:`ECenterCrop`.

    Args:
        crop_size: Output side.
        area_range: Fraction of the image area the window may cover.
        ratio_range: Aspect ratio (w / h) range.
        min_covered: Smallest accepted area fraction.
        max_attempts: Number of tries before the centre-crop fallback.
        interpolation: Image interpolation of the resize.
        seed: Seed of this transform's generator.
    """

    def __init__(
        self,
        crop_size: int = 224,
        area_range: tuple[float, float] = (0.1, 1.0),
        ratio_range: tuple[float, float] = (3 / 4, 4 / 3),
        min_covered: float = 0.1,
        max_attempts: int = 10,
        interpolation: str = 'bicubic',
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if not 0 < area_range[0] <= area_range[1] <= 1:
            raise ValueError(f'area_range must satisfy 0 < min <= max <= 1, got {area_range!r}')
        if not 0 < ratio_range[0] <= ratio_range[1]:
            raise ValueError(f'ratio_range must satisfy 0 < min <= max, got {ratio_range!r}')
        self.crop_size = crop_size
        self.area_range = tuple(area_range)
        self.ratio_range = tuple(ratio_range)
        self.min_covered = min_covered
        self.max_attempts = max_attempts
        self.interpolation = interpolation
        self.rng = TransformRNG(seed)

    def sample_box(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int] | None:
        """Draw a window ``(top, left, h, w)`` or ``None`` when the centre crop should be used."""
        area = height * width
        min_area, max_area = self.area_range[0] * area, self.area_range[1] * area
        for _ in range(self.max_attempts):
            ratio = rng.uniform(*self.ratio_range)
            crop_h = int(round(math.sqrt(min_area / ratio)))
            max_h = int(round(math.sqrt(max_area / ratio)))
            if max_h * ratio > width:
                # Largest height whose rounded width still fits.
                max_h = int((width + 0.5 - 1e-7) / ratio)
                if max_h * ratio > width:
                    max_h -= 1
            max_h = min(max_h, height)
            crop_h = min(crop_h, max_h)
            crop_h = int(round(rng.uniform(crop_h, max_h)))
            crop_w = int(round(crop_h * ratio))
            crop_area = crop_h * crop_w
            if not min_area <= crop_area <= max_area or crop_w > width or crop_h > height:
                continue
            if crop_area < self.min_covered * area:
                continue
            if crop_h == height and crop_w == width:
                return None
            top = int(rng.integers(0, height - crop_h, endpoint=True))
            left = int(rng.integers(0, width - crop_w, endpoint=True))
            return top, left, crop_h, crop_w
        return None

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        box = self.sample_box(h, w, self.rng(results))
        if box is None:
            box = center_crop_box(h, w, self.crop_size)
        return _crop_resize(results, box, self.crop_size, self.interpolation)

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(crop_size={self.crop_size}, area_range={self.area_range}, '
            f'ratio_range={self.ratio_range}, min_covered={self.min_covered}, rng={self.rng})'
        )


# --- RandAugment operations on RGB PIL images: (image, magnitude value, rng) -> image. -------------
_FILL = (125, 123, 114)  # ImageNet mean RGB, the fill of cut-outs and affine borders.


def _signed(v: float, rng: np.random.Generator) -> float:
    return -v if rng.random() > 0.5 else v


def _affine(img: Image.Image, coeffs: tuple) -> Image.Image:
    return img.transform(img.size, Image.Transform.AFFINE, coeffs, fillcolor=_FILL)


def _cutout(img: Image.Image, v: float, rng: np.random.Generator) -> Image.Image:
    if v <= 0:
        return img
    w, h = img.size
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    x0, y0 = int(max(0, cx - v / 2)), int(max(0, cy - v / 2))
    x1, y1 = int(min(w, x0 + v)), int(min(h, y0 + v))
    arr = np.array(img)
    arr[y0:y1, x0:x1] = _FILL
    return Image.fromarray(arr)


def _solarize_add(img: Image.Image, v: float, rng: np.random.Generator) -> Image.Image:
    arr = np.asarray(img).astype(np.int32)
    added = np.clip(arr + int(v), 0, 255)
    return Image.fromarray(np.where(arr < 128, added, arr).astype(np.uint8))


# name -> (function, min value, max value); PyTorch-Encoding's 16 operations and ranges.
RAND_AUGMENT_OPS: dict[str, tuple[Callable, float, float]] = {
    'AutoContrast': (lambda img, v, rng: ImageOps.autocontrast(img), 0, 1),
    'Equalize': (lambda img, v, rng: ImageOps.equalize(img), 0, 1),
    'Invert': (lambda img, v, rng: ImageOps.invert(img), 0, 1),
    'Rotate': (lambda img, v, rng: img.rotate(_signed(v, rng), fillcolor=_FILL), 0, 30),
    'Posterize': (lambda img, v, rng: ImageOps.posterize(img, max(1, int(v))), 0, 4),
    'Solarize': (lambda img, v, rng: ImageOps.solarize(img, v), 0, 256),
    'SolarizeAdd': (_solarize_add, 0, 110),
    'Color': (lambda img, v, rng: ImageEnhance.Color(img).enhance(v), 0.1, 1.9),
    'Contrast': (lambda img, v, rng: ImageEnhance.Contrast(img).enhance(v), 0.1, 1.9),
    'Brightness': (lambda img, v, rng: ImageEnhance.Brightness(img).enhance(v), 0.1, 1.9),
    'Sharpness': (lambda img, v, rng: ImageEnhance.Sharpness(img).enhance(v), 0.1, 1.9),
    'ShearX': (lambda img, v, rng: _affine(img, (1, _signed(v, rng), 0, 0, 1, 0)), 0.0, 0.3),
    'ShearY': (lambda img, v, rng: _affine(img, (1, 0, 0, _signed(v, rng), 1, 0)), 0.0, 0.3),
    'CutoutAbs': (_cutout, 0, 40),
    'TranslateXabs': (lambda img, v, rng: _affine(img, (1, 0, _signed(v, rng), 0, 1, 0)), 0, 100),
    'TranslateYabs': (lambda img, v, rng: _affine(img, (1, 0, 0, 0, 1, _signed(v, rng))), 0, 100),
}


@TRANSFORMS.register_module()
class RandAugment(BaseTransform):
    """RandAugment (Cubuk et al., 2020) as PyTorch-Encoding applies it.

    ``n`` operations are drawn with replacement from the 16 in
    :data:`RAND_AUGMENT_OPS`; each is skipped when ``u > U(0.2, 0.8)``
    (``u ~ U(0, 1)``), otherwise applied at value
    ``m / 30 * (max - min) + min``. Signed operations (rotate, shear,
    translate) flip their sign with probability 0.5. Image only: for
    recognition, labels are class ids.

    Args:
        n: Number of operations per image.
        m: Magnitude on a 0..30 scale.
        ops: Subset of operation names (default: all 16).
        seed: Seed of this transform's generator.
    """

    def __init__(self, n: int = 2, m: int = 12, ops: list[str] | None = None, seed: int | None = None) -> None:
        super().__init__()
        names = list(RAND_AUGMENT_OPS) if ops is None else list(ops)
        unknown = sorted(set(names) - set(RAND_AUGMENT_OPS))
        if unknown or not names:
            raise ValueError(
                f'RandAugment ops {unknown or names} are unknown or empty; choose from {list(RAND_AUGMENT_OPS)}'
            )
        if n < 0 or not 0 <= m <= 30:
            raise ValueError(f'RandAugment needs n >= 0 and 0 <= m <= 30, got n={n}, m={m}')
        self.n = n
        self.m = m
        self.ops = names
        self.rng = TransformRNG(seed)

    def transform(self, results: dict) -> dict:
        rng = self.rng(results)
        src = results['img']
        if src.ndim != 3 or src.shape[2] != 3 or src.dtype != np.uint8:
            raise ValueError(f'RandAugment expects a uint8 (H, W, 3) BGR image, got {src.dtype} {src.shape}')
        img = Image.fromarray(np.ascontiguousarray(src[..., ::-1]))
        for index in rng.integers(0, len(self.ops), size=self.n):
            if rng.random() > rng.uniform(0.2, 0.8):
                continue
            op, low, high = RAND_AUGMENT_OPS[self.ops[index]]
            img = op(img, self.m / 30 * (high - low) + low, rng)
        results['img'] = np.ascontiguousarray(np.asarray(img)[..., ::-1])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(n={self.n}, m={self.m}, ops={self.ops}, rng={self.rng})'
