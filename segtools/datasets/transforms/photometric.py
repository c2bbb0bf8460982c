"""Photometric transforms: change pixel values of the image only, never the labels.

Images are BGR (as mmcv loads them), ``(H, W, 3)``; each transform returns the
image with the dtype and shape it received. Randomness comes from a seeded
generator per transform (:class:`~segtools.datasets.transforms.rng.TransformRNG`).
"""

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from segtools.datasets.transforms.rng import TransformRNG
from segtools.registry import TRANSFORMS

# Luma weights in BGR order (ITU-R 601, as cv2/PIL/torchvision use for grey).
_GREY_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)

# AlexNet's PCA of ImageNet RGB pixels in [0, 1]: eigenvalues and eigenvectors (columns).
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def _to_dtype(img: np.ndarray, dtype: np.dtype) -> np.ndarray:
    img = np.clip(img, 0, 255)
    if np.issubdtype(dtype, np.integer):
        img = np.rint(img)
    return img.astype(dtype)


def _check_colour(img: np.ndarray, name: str) -> None:
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'{name} expects a 3-channel (H, W, 3) BGR image, got shape {img.shape}')


@TRANSFORMS.register_module()
class PhotoMetricDistortion(BaseTransform):
    """mmseg's photometric distortion: brightness, contrast, saturation, hue.

    Each step fires with probability 0.5, in this order: brightness; contrast
    either here or last (random mode); saturation; hue. Values are clipped to
    ``[0, 255]`` after each step; saturation and hue go through 8-bit HSV.

    Args:
        brightness_delta: Brightness offset drawn from ``U(-delta, delta)``.
        contrast_range: Contrast gain range.
        saturation_range: Saturation gain range.
        hue_delta: Hue shift (OpenCV units, 180 per turn) from integers in ``[-delta, delta)``.
        seed: Seed of this transform's generator.
    """

    def __init__(
        self,
        brightness_delta: int = 32,
        contrast_range: tuple[float, float] = (0.5, 1.5),
        saturation_range: tuple[float, float] = (0.5, 1.5),
        hue_delta: int = 18,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta
        self.rng = TransformRNG(seed)

    @staticmethod
    def _affine(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
        return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)

    def transform(self, results: dict) -> dict:
        """Distort ``results['img']`` (BGR, ``(H, W, 3)``) in place of the key."""
        rng = self.rng(results)
        src = results['img']
        _check_colour(src, 'PhotoMetricDistortion')
        # 8-bit working copy: OpenCV's HSV ranges (H in [0, 180)) assume uint8.
        img = np.clip(src, 0, 255).astype(np.uint8)

        if rng.integers(2):
            img = self._affine(img, beta=rng.uniform(-self.brightness_delta, self.brightness_delta))
        contrast_last = bool(rng.integers(2))
        if not contrast_last and rng.integers(2):
            img = self._affine(img, alpha=rng.uniform(*self.contrast_range))
        # The 8-bit HSV round trip is lossy, so a step whose draw is a no-op skips it.
        if rng.integers(2):
            alpha = rng.uniform(*self.saturation_range)
            if alpha != 1:
                hsv = mmcv.bgr2hsv(img)
                hsv[..., 1] = self._affine(hsv[..., 1], alpha=alpha)
                img = mmcv.hsv2bgr(hsv)
        if rng.integers(2):
            shift = int(rng.integers(-self.hue_delta, self.hue_delta)) if self.hue_delta > 0 else 0
            if shift:
                hsv = mmcv.bgr2hsv(img)
                hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
                img = mmcv.hsv2bgr(hsv)
        if contrast_last and rng.integers(2):
            img = self._affine(img, alpha=rng.uniform(*self.contrast_range))

        results['img'] = img.astype(src.dtype)
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(brightness_delta={self.brightness_delta}, '
            f'contrast_range={self.contrast_range}, saturation_range={self.saturation_range}, '
            f'hue_delta={self.hue_delta}, rng={self.rng})'
        )


@TRANSFORMS.register_module()
class RandomGaussianBlur(BaseTransform):
    """Blur the image with a Gaussian of random radius (PSPNet/PyTorch-Encoding style).

    With probability ``prob`` the image is blurred with standard deviation
    ``sigma ~ U(radius_range)`` (PIL's ``GaussianBlur(radius)`` is that
    standard deviation); the kernel spans ``+-3 sigma``.

    Args:
        prob: Probability of blurring.
        radius_range: ``(min, max)`` standard deviation in pixels.
        seed: Seed of this transform's generator.
    """

    def __init__(self, prob: float = 0.5, radius_range: tuple[float, float] = (0.0, 1.0), seed: int | None = None):
        super().__init__()
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if len(radius_range) != 2 or not 0 <= radius_range[0] <= radius_range[1]:
            raise ValueError(f'radius_range must be (min, max) with 0 <= min <= max, got {radius_range!r}')
        self.prob = prob
        self.radius_range = tuple(radius_range)
        self.rng = TransformRNG(seed)

    def transform(self, results: dict) -> dict:
        rng = self.rng(results)
        blur = rng.random() < self.prob
        sigma = float(rng.uniform(*self.radius_range))
        if blur and sigma > 0:
            ksize = 2 * int(np.ceil(3 * sigma)) + 1
            results['img'] = cv2.GaussianBlur(results['img'], (ksize, ksize), sigmaX=sigma, sigmaY=sigma)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, radius_range={self.radius_range}, rng={self.rng})'


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """torchvision-style colour jitter in random order (PyTorch-Encoding's ImageNet recipe).

    Brightness scales the image, contrast blends it with its mean grey level,
    saturation with its per-pixel grey, each by a factor drawn from
    ``[max(0, 1 - v), 1 + v]``; hue rotates by ``U(-hue, hue)`` of a turn.

    Args:
        brightness: Brightness jitter strength (0 disables).
        contrast: Contrast jitter strength (0 disables).
        saturation: Saturation jitter strength (0 disables).
        hue: Hue jitter in turns, at most 0.5 (0 disables).
        seed: Seed of this transform's generator.
    """

    def __init__(
        self,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
        hue: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (('brightness', brightness), ('contrast', contrast), ('saturation', saturation)):
            if value < 0:
                raise ValueError(f'ColorJitter {name} must be >= 0, got {value}')
        if not 0 <= hue <= 0.5:
            raise ValueError(f'ColorJitter hue must be in [0, 0.5], got {hue}')
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.rng = TransformRNG(seed)

    def transform(self, results: dict) -> dict:
        rng = self.rng(results)
        src = results['img']
        _check_colour(src, 'ColorJitter')
        img = src.astype(np.float32)
        for op in rng.permutation(4):
            if op == 0 and self.brightness > 0:
                img = np.clip(img * rng.uniform(max(0.0, 1 - self.brightness), 1 + self.brightness), 0, 255)
            elif op == 1 and self.contrast > 0:
                factor = rng.uniform(max(0.0, 1 - self.contrast), 1 + self.contrast)
                mean = float((img @ _GREY_BGR).mean())
                img = np.clip(factor * img + (1 - factor) * mean, 0, 255)
            elif op == 2 and self.saturation > 0:
                factor = rng.uniform(max(0.0, 1 - self.saturation), 1 + self.saturation)
                grey = (img @ _GREY_BGR)[..., None]
                img = np.clip(factor * img + (1 - factor) * grey, 0, 255)
            elif op == 3 and self.hue > 0:
                hsv = mmcv.bgr2hsv(np.rint(img).astype(np.uint8))
                shift = int(round(rng.uniform(-self.hue, self.hue) * 180))
                hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
                img = mmcv.hsv2bgr(hsv).astype(np.float32)
        results['img'] = _to_dtype(img, src.dtype)
        return results

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(brightness={self.brightness}, contrast={self.contrast}, '
            f'saturation={self.saturation}, hue={self.hue}, rng={self.rng})'
        )


@TRANSFORMS.register_module()
class Lighting(BaseTransform):
    """AlexNet's PCA lighting noise (Krizhevsky et al., 2012).

    Adds ``eigvec @ (alpha * eigval)`` with ``alpha ~ N(0, alphastd)`` per
    image to every pixel. The PCA is of RGB values in ``[0, 1]``, so the offset
    is scaled by 255 for 8-bit images and reordered for BGR.

    Args:
        alphastd: Standard deviation of ``alpha``.
        eigval: The three eigenvalues.
        eigvec: ``(3, 3)`` eigenvectors as columns, rows in RGB order.
        channel_order: ``'bgr'`` (mmcv's loading default) or ``'rgb'``.
        seed: Seed of this transform's generator.
    """

    def __init__(
        self,
        alphastd: float = 0.1,
        eigval: tuple[float, float, float] = IMAGENET_EIGVAL,
        eigvec: tuple[tuple[float, float, float], ...] = IMAGENET_EIGVEC,
        channel_order: str = 'bgr',
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.eigval = np.asarray(eigval, dtype=np.float64)
        self.eigvec = np.asarray(eigvec, dtype=np.float64)
        if self.eigval.shape != (3,) or self.eigvec.shape != (3, 3):
            raise ValueError(
                f'Lighting needs 3 eigenvalues and 3x3 eigenvectors, got {self.eigval.shape}, {self.eigvec.shape}'
            )
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
        self.alphastd = alphastd
        self.channel_order = channel_order
        self.rng = TransformRNG(seed)

    def offset(self, alpha: np.ndarray) -> np.ndarray:
        """Per-channel offset in 0..255 units, in the image's channel order, for ``alpha`` ``(3,)``."""
        rgb = self.eigvec @ (alpha * self.eigval) * 255.0
        return rgb[::-1].copy() if self.channel_order == 'bgr' else rgb

    def transform(self, results: dict) -> dict:
        rng = self.rng(results)
        src = results['img']
        _check_colour(src, 'Lighting')
        if self.alphastd == 0:
            return results
        alpha = rng.normal(0.0, self.alphastd, size=3)
        results['img'] = _to_dtype(src.astype(np.float32) + self.offset(alpha).astype(np.float32), src.dtype)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(alphastd={self.alphastd}, channel_order={self.channel_order!r})'
