"""Recognition transforms: ERandomCrop, ECenterCrop and RandAugment."""

import numpy as np
import pytest

from segtools.datasets.transforms.recognition import (
    RAND_AUGMENT_OPS,
    ECenterCrop,
    ERandomCrop,
    RandAugment,
    center_crop_box,
)


def coordinate_image(h: int, w: int) -> np.ndarray:
    """Pixel (y, x) holds (y, x, 0) so crops can be located exactly (h, w <= 256)."""
    yx = np.indices((h, w)).transpose(1, 2, 0)
    return np.concatenate([yx, np.zeros((h, w, 1), int)], axis=2).astype(np.uint8)


def test_center_crop_box_formula():
    top, left, side, _ = center_crop_box(100, 200, 224)
    assert side == round(224 / 256 * 100) == 88
    assert (top, left) == (round((100 - 88) / 2), round((200 - 88) / 2))


def test_ecenter_crop_takes_the_centre():
    img = coordinate_image(100, 200)
    out = ECenterCrop(crop_size=88, interpolation='nearest')(dict(img=img))['img']
    top, left, side, _ = center_crop_box(100, 200, 88)
    assert out.shape == (88, 88, 3)
    assert tuple(out[0, 0, :2]) == (top, left)
    assert tuple(out[-1, -1, :2]) == (top + side - 1, left + side - 1)


def test_erandom_crop_boxes_respect_area_and_ratio():
    transform = ERandomCrop(crop_size=32, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(50):
        box = transform.sample_box(120, 160, rng)
        if box is None:
            continue
        top, left, h, w = box
        assert 0.1 * 120 * 160 <= h * w <= 120 * 160
        assert 3 / 4 - 0.05 <= w / h <= 4 / 3 + 0.05  # rounding of small windows
        assert top + h <= 120 and left + w <= 160


def test_erandom_crop_output_repeats_and_falls_back_to_centre():
    img = coordinate_image(90, 120)
    a = [ERandomCrop(crop_size=32, seed=4)(dict(img=img.copy()))['img'] for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    assert a[0].shape == (32, 32, 3)
    # Only the whole image meets min_covered=1, and the whole image means "centre crop".
    fallback = ERandomCrop(crop_size=32, min_covered=1.0, seed=0)(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(fallback, ECenterCrop(crop_size=32)(dict(img=img.copy()))['img'])


def test_erandom_crop_moves_labels_with_the_image():
    img = coordinate_image(64, 64)
    seg = (img[..., 1] // 8).astype(np.uint8)  # label = column band
    results = ERandomCrop(crop_size=24, interpolation='nearest', seed=1)(
        dict(img=img, gt_seg_map=seg, seg_fields=['gt_seg_map'])
    )
    np.testing.assert_array_equal(results['gt_seg_map'], results['img'][..., 1] // 8)


def test_rand_augment_keeps_shape_dtype_and_repeats():
    img = np.random.default_rng(0).integers(0, 256, size=(24, 32, 3)).astype(np.uint8)
    outs = [RandAugment(n=2, m=12, seed=5)(dict(img=img.copy()))['img'] for _ in range(2)]
    np.testing.assert_array_equal(outs[0], outs[1])
    assert outs[0].shape == img.shape and outs[0].dtype == np.uint8
    np.testing.assert_array_equal(RandAugment(n=0, seed=0)(dict(img=img.copy()))['img'], img)
    changed = sum(not np.array_equal(RandAugment(seed=s)(dict(img=img.copy()))['img'], img) for s in range(10))
    assert changed >= 5


@pytest.mark.parametrize('op', sorted(RAND_AUGMENT_OPS))
def test_each_rand_augment_op_runs(op):
    img = np.random.default_rng(1).integers(0, 256, size=(16, 20, 3)).astype(np.uint8)
    transform = RandAugment(n=3, m=30, ops=[op], seed=0)
    out = transform(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.uint8


def test_rand_augment_rejects_unknown_op():
    with pytest.raises(ValueError, match='Blur'):
        RandAugment(ops=['Blur'])
