"""CropAroundCenter: the patch around a point, padded outside the image, optionally jittered."""

import numpy as np
import pytest

from segtools.datasets.samplers import SampleIndex
from segtools.datasets.transforms import CropAroundCenter


def _sample(center=(5, 6)) -> dict:
    img = np.arange(10 * 12 * 3, dtype=np.int64).reshape(10, 12, 3).astype(np.uint16)
    seg = np.arange(10 * 12, dtype=np.uint8).reshape(10, 12)
    return dict(img=img, gt_seg_map=seg, seg_fields=['gt_seg_map'], crop_center=center)


def test_centred_crop_equals_slicing():
    out = CropAroundCenter(crop_size=(4, 6))(_sample())
    expected = _sample()['img'][3:7, 3:9]
    np.testing.assert_array_equal(out['img'], expected)
    np.testing.assert_array_equal(out['gt_seg_map'], _sample()['gt_seg_map'][3:7, 3:9])
    assert out['img_shape'] == (4, 6)


def test_outside_the_image_is_padded():
    out = CropAroundCenter(crop_size=6, pad_val=7, seg_pad_val=255)(_sample(center=(0, 11)))
    # rows -3..2, columns 8..13: the top three rows and the right two columns are outside.
    assert (out['img'][:3] == 7).all() and (out['img'][:, 4:] == 7).all()
    np.testing.assert_array_equal(out['img'][3:, :4], _sample()['img'][0:3, 8:12])
    assert (out['gt_seg_map'][:3] == 255).all()


def test_jitter_is_bounded_and_follows_the_sample_key():
    crop = CropAroundCenter(crop_size=2, max_shift=2)
    seen = set()
    for position in range(40):
        sample = dict(_sample(), sample_idx=SampleIndex(0, (0, 0, 0, position)))
        out = crop(sample)
        value = int(out['img'][0, 0, 0])
        y, x = divmod(value // 3, 12)
        seen.add((y + 1 - 5, x + 1 - 6))  # offset of the cut from the unjittered one
        again = crop(dict(_sample(), sample_idx=SampleIndex(0, (0, 0, 0, position))))
        np.testing.assert_array_equal(again['img'], out['img'])
    assert seen <= {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)} and len(seen) > 5


def test_without_a_point_the_image_centre_is_used():
    sample = _sample()
    del sample['crop_center']
    np.testing.assert_array_equal(CropAroundCenter(crop_size=4)(sample)['img'], _sample()['img'][3:7, 4:8])


def test_bad_arguments():
    with pytest.raises(ValueError, match='crop_size'):
        CropAroundCenter(crop_size=0)
    with pytest.raises(ValueError, match='max_shift'):
        CropAroundCenter(crop_size=4, max_shift=-1)
