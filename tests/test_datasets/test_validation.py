"""Tests of the shared dataset checks in segtools.datasets.validation."""

import cv2
import numpy as np
import pytest
from PIL import Image

from segtools.datasets.validation import (
    DatasetError,
    DatasetNotFoundError,
    check_image_decoded,
    check_label_values,
    check_mask_layout,
    check_same_size,
    format_values,
    layout_hint,
    map_labels,
    read_image,
    read_mask,
    resolve_num_samples,
    sample_indices,
    validate_seg_sample,
)


def test_error_types():
    assert issubclass(DatasetError, ValueError)
    assert issubclass(DatasetNotFoundError, DatasetError)
    assert issubclass(DatasetNotFoundError, FileNotFoundError)


def test_format_values_truncates():
    assert format_values([1, 2, 3]) == '[1, 2, 3]'
    text = format_values(list(range(25)), limit=4)
    assert text.startswith('[0, 1, 2, 3, ...') and '25 in total' in text
    assert format_values(np.array([7, 9], dtype=np.uint8)) == '[7, 9]'


def test_layout_hint_names_converter():
    hint = layout_hint('root/\n    a/*.png', 'ade20k')
    assert 'root/' in hint and 'tools/dataset_converters/ade20k.py' in hint
    assert layout_hint(None, None) == ''


@pytest.mark.parametrize(
    ('validate', 'expected'), [(True, 16), (None, 16), (False, 0), ({'num_samples': 3}, 3), ({}, 16)]
)
def test_resolve_num_samples(validate, expected):
    assert resolve_num_samples(validate) == expected


def test_resolve_num_samples_rejects_bad_config():
    with pytest.raises(TypeError, match='num_sample'):
        resolve_num_samples({'num_sample': 3})
    with pytest.raises(ValueError, match='-1'):
        resolve_num_samples({'num_samples': -1})
    with pytest.raises(TypeError):
        resolve_num_samples('all')


def test_sample_indices_spread_over_the_list():
    assert sample_indices(5, 16) == [0, 1, 2, 3, 4]
    idx = sample_indices(100, 4)
    assert idx[0] == 0 and idx[-1] == 99 and len(idx) == 4 and idx == sorted(idx)
    assert sample_indices(0, 4) == [] and sample_indices(10, 0) == []


def test_map_labels_matches_formula():
    raw = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = map_labels(raw, None, reduce_zero_label=True, ignore_index=255)
    for value in range(256):
        expected = 255 if value in (0, 255) else value - 1
        assert out[raw == value].item() == expected
    # label_map is applied after reduce_zero_label (mmseg 1.x order): raw 3 -> 2 -> 0.
    mapped = map_labels(np.array([[1, 2, 3]]), {0: 255, 1: 255, 2: 0}, reduce_zero_label=True)
    assert mapped.tolist() == [[255, 255, 0]]
    assert map_labels(np.array([[4, 1]]), {1: 0, 4: 1}, reduce_zero_label=False).tolist() == [[1, 0]]


def test_check_label_values_accepts_range_and_ignore():
    check_label_values(np.array([[0, 4], [255, 3]]), num_classes=5, ignore_index=255, path='m.png')


def test_check_label_values_reports_values_and_file():
    label = np.array([[0, 7], [9, 255]], dtype=np.uint8)
    with pytest.raises(DatasetError) as info:
        check_label_values(label, num_classes=5, ignore_index=255, path='dir/mask_3.png')
    msg = str(info.value)
    assert 'dir/mask_3.png' in msg and '[7, 9]' in msg and 'reduce_zero_label' in msg and 'label_map' in msg


def test_check_label_values_reports_raw_values():
    raw = np.array([[151, 1]])
    mapped = map_labels(raw, None, reduce_zero_label=True)
    with pytest.raises(DatasetError, match=r'\[151\]'):
        check_label_values(mapped, 150, 255, 'a.png', raw_label=raw)


def test_check_label_values_rejects_negative():
    with pytest.raises(DatasetError, match=r'\[-1\]'):
        check_label_values(np.array([[-1, 0]]), 3, 255, 'neg.png')


def test_check_mask_layout():
    mask = np.zeros((4, 5), np.uint8)
    assert check_mask_layout(mask, 'a.png') is mask
    assert check_mask_layout(mask[..., None], 'a.png').shape == (4, 5)
    colour = np.zeros((4, 5, 3), np.uint8)
    colour[0, 0] = (0, 0, 128)  # BGR for RGB (128, 0, 0)
    with pytest.raises(DatasetError) as info:
        check_mask_layout(colour, 'colour.png')
    assert 'colour.png' in str(info.value) and '(128, 0, 0)' in str(info.value) and '3-channel' in str(info.value)
    with pytest.raises(DatasetError, match='identical channels'):
        check_mask_layout(np.ones((4, 5, 3), np.uint8), 'grey3.png')


def test_check_same_size():
    check_same_size((4, 5, 3), (4, 5), 'i.jpg', 'm.png')
    with pytest.raises(DatasetError) as info:
        check_same_size((4, 5, 3), (4, 6), 'i.jpg', 'm.png')
    msg = str(info.value)
    assert 'i.jpg' in msg and 'm.png' in msg and '4x6' in msg and '4x5' in msg


def test_check_image_decoded():
    with pytest.raises(DatasetError, match='x.jpg'):
        check_image_decoded(None, 'x.jpg')


def test_read_image_errors(tmp_path):
    good = tmp_path / 'good.png'
    cv2.imwrite(str(good), np.full((6, 8, 3), 50, np.uint8))
    assert read_image(str(good)).shape == (6, 8, 3)
    data = good.read_bytes()
    truncated = tmp_path / 'truncated.png'
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match='truncated.png'):
        read_image(str(truncated))
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(DatasetError, match='empty.jpg'):
        read_image(str(empty))
    with pytest.raises(FileNotFoundError, match='nothere.jpg'):
        read_image(str(tmp_path / 'nothere.jpg'))


def test_read_mask_keeps_palette_indices(tmp_path):
    mask = np.array([[0, 1], [15, 255]], np.uint8)
    img = Image.fromarray(mask, mode='P')
    img.putpalette([v for i in range(256) for v in (i, 255 - i, 7)])
    path = tmp_path / 'pal.png'
    img.save(path)
    assert np.array_equal(read_mask(str(path)), mask)
    truncated = tmp_path / 'cut.png'
    truncated.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DatasetError, match='cut.png'):
        read_mask(str(truncated))


def test_read_mask_gives_uint8_ids_or_names_what_is_wrong(tmp_path):
    ids = np.array([[0, 3], [200, 255]], np.uint8)
    Image.fromarray(ids.astype(np.uint16)).save(tmp_path / 'deep.png')  # 'I;16', ids <= 255: fine
    out = read_mask(str(tmp_path / 'deep.png'))
    assert out.dtype == np.uint8 and np.array_equal(out, ids)
    Image.fromarray(np.array([[0, 1000]], np.uint16)).save(tmp_path / 'wide.png')
    with pytest.raises(DatasetError, match=r'wide\.png: .*16-bit image with values \[1000\] outside 0\.\.255'):
        read_mask(str(tmp_path / 'wide.png'))
    Image.fromarray(np.dstack([ids, ids]), mode='LA').save(tmp_path / 'alpha.png')
    with pytest.raises(DatasetError, match=r'alpha\.png: .*2 channels'):
        read_mask(str(tmp_path / 'alpha.png'))
    # The sampled dataset check refuses what the loader would refuse, naming the mask.
    cv2.imwrite(str(tmp_path / 'wide.jpg'), np.zeros((1, 2, 3), np.uint8))
    info = dict(img_path=str(tmp_path / 'wide.jpg'), seg_map_path=str(tmp_path / 'wide.png'), label_map=None)
    with pytest.raises(DatasetError, match=r'wide\.png.*\[1000\]'):
        validate_seg_sample(info, num_classes=0, ignore_index=255)


def test_validate_seg_sample_end_to_end(tmp_path):
    img, seg = tmp_path / 'a.jpg', tmp_path / 'a.png'
    cv2.imwrite(str(img), np.zeros((6, 8, 3), np.uint8))
    cv2.imwrite(str(seg), np.full((6, 8), 3, np.uint8))
    info = dict(img_path=str(img), seg_map_path=str(seg), label_map=None, reduce_zero_label=True)
    validate_seg_sample(info, num_classes=3, ignore_index=255)  # 3 -> 2 after reduce_zero_label
    with pytest.raises(DatasetError, match=r'\[3\]'):
        validate_seg_sample(dict(info, reduce_zero_label=False), num_classes=3, ignore_index=255)
    validate_seg_sample(dict(info, seg_map_path='missing.png'), 3, 255, check_mask=False)
