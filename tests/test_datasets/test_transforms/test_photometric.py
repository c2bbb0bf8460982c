"""Photometric transforms keep dtype and shape, leave labels alone and repeat under a seed."""

import numpy as np
import pytest

from segtools.datasets.transforms.photometric import (
    IMAGENET_EIGVAL,
    IMAGENET_EIGVEC,
    ColorJitter,
    Lighting,
    PhotoMetricDistortion,
    RandomGaussianBlur,
)


def make_results(seed: int = 0, dtype=np.uint8) -> dict:
    rng = np.random.default_rng(seed)
    img = rng.integers(40, 216, size=(12, 16, 3)).astype(dtype)
    seg = rng.integers(0, 4, size=(12, 16)).astype(np.uint8)
    return dict(img=img, gt_seg_map=seg, seg_fields=['gt_seg_map'])


PHOTOMETRIC = {
    'PhotoMetricDistortion': lambda seed: PhotoMetricDistortion(seed=seed),
    'RandomGaussianBlur': lambda seed: RandomGaussianBlur(prob=0.5, radius_range=(0.5, 1.5), seed=seed),
    'ColorJitter': lambda seed: ColorJitter(0.4, 0.4, 0.4, 0.1, seed=seed),
    'Lighting': lambda seed: Lighting(alphastd=0.1, seed=seed),
}


@pytest.mark.parametrize('name', sorted(PHOTOMETRIC))
@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
def test_keeps_dtype_shape_and_labels_and_changes_pixels(name, dtype):
    changed = 0
    for seed in range(10):
        sample = make_results(seed, dtype)
        results = PHOTOMETRIC[name](seed)(make_results(seed, dtype))
        assert results['img'].dtype == dtype and results['img'].shape == sample['img'].shape
        np.testing.assert_array_equal(results['gt_seg_map'], sample['gt_seg_map'])
        changed += not np.array_equal(results['img'], sample['img'])
    assert changed >= 3, f'{name} changed pixels in only {changed}/10 samples'


@pytest.mark.parametrize('name', sorted(PHOTOMETRIC))
def test_seeded_runs_repeat(name):
    def run(seed):
        transform = PHOTOMETRIC[name](seed)
        return [transform(make_results(i))['img'] for i in range(4)]

    for a, b in zip(run(3), run(3), strict=True):
        np.testing.assert_array_equal(a, b)
    runs = [run(seed)[0] for seed in range(5)]
    assert any(not np.array_equal(runs[0], r) for r in runs[1:])


def test_photometric_distortion_brightness_only_is_a_uniform_shift():
    transform = PhotoMetricDistortion(
        brightness_delta=20, contrast_range=(1.0, 1.0), saturation_range=(1.0, 1.0), hue_delta=0, seed=0
    )
    shifts = set()
    for i in range(8):
        src = make_results(i)['img']
        out = transform(dict(img=src.copy()))['img']
        diff = out.astype(int) - src.astype(int)
        # Pixels in [40, 216) never clip with |delta| <= 20; truncation to uint8 makes it +-1.
        assert np.ptp(diff) <= 1 and np.abs(diff).max() <= 20
        shifts.add(int(diff.min()))
    assert len(shifts) > 1


def test_photometric_distortion_keeps_grey_grey_under_hue():
    grey = np.full((4, 4, 3), 100, np.uint8)
    transform = PhotoMetricDistortion(brightness_delta=0, contrast_range=(1, 1), saturation_range=(1, 1), seed=1)
    for _ in range(5):
        np.testing.assert_array_equal(transform(dict(img=grey.copy()))['img'], grey)


def test_gaussian_blur_smooths_and_prob_zero_is_identity():
    src = make_results()['img']
    blurred = RandomGaussianBlur(prob=1.0, radius_range=(1.0, 1.0), seed=0)(dict(img=src.copy()))['img']
    assert blurred.astype(float).var() < 0.5 * src.astype(float).var()
    assert abs(blurred.astype(float).mean() - src.astype(float).mean()) < 3
    same = RandomGaussianBlur(prob=0.0, seed=0)(dict(img=src.copy()))['img']
    np.testing.assert_array_equal(same, src)


def test_color_jitter_zero_is_identity_and_brightness_scales():
    src = make_results()['img']
    np.testing.assert_array_equal(ColorJitter(0, 0, 0, 0, seed=0)(dict(img=src.copy()))['img'], src)
    for seed in range(4):
        out = ColorJitter(brightness=0.3, contrast=0, saturation=0, seed=seed)(dict(img=src.astype(np.float32)))
        ratio = out['img'] / src
        clipped = out['img'] >= 255
        assert np.ptp(ratio[~clipped]) < 1e-5 and 0.7 - 1e-6 <= ratio[~clipped].min() <= 1.3 + 1e-6
    with pytest.raises(ValueError, match='hue'):
        ColorJitter(hue=0.7)


def test_color_jitter_saturation_blends_towards_grey():
    src = make_results()['img'].astype(np.float32)
    img = ColorJitter(brightness=0, contrast=0, saturation=1.0, seed=0)(dict(img=src.copy()))['img']
    grey = src @ np.array([0.114, 0.587, 0.299], np.float32)
    # Every output pixel lies on the segment between the pixel and its grey level (same factor for all).
    factor = (img - grey[..., None]) / (src - grey[..., None] + 1e-9)
    mask = np.abs(src - grey[..., None]) > 5
    assert np.ptp(factor[mask]) < 0.05


def test_lighting_offset_matches_pca_formula():
    src = np.full((3, 5, 3), 128.0, np.float32)
    for seed in range(3):
        out = Lighting(alphastd=0.1, seed=seed)(dict(img=src.copy()))['img']
        alpha = np.random.default_rng(seed).normal(0.0, 0.1, size=3)
        rgb = [sum(IMAGENET_EIGVEC[i][j] * alpha[j] * IMAGENET_EIGVAL[j] for j in range(3)) * 255 for i in range(3)]
        expected_bgr = 128.0 + np.array(rgb[::-1])
        np.testing.assert_allclose(out[0, 0], expected_bgr, rtol=0, atol=1e-3)
        assert (out == out[0, 0]).all()
    rgb_out = Lighting(alphastd=0.1, channel_order='rgb', seed=0)(dict(img=src.copy()))['img']
    bgr_out = Lighting(alphastd=0.1, channel_order='bgr', seed=0)(dict(img=src.copy()))['img']
    np.testing.assert_allclose(rgb_out[0, 0], bgr_out[0, 0, ::-1])


def test_colour_transforms_reject_grey_images():
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        PhotoMetricDistortion(seed=0)(dict(img=np.zeros((4, 4), np.uint8)))
