"""Tests of BaseSegDataset: entry lists, class subsets, and the up-front validation."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets.base_seg_dataset import BaseSegDataset
from segtools.datasets.validation import DatasetError, DatasetNotFoundError
from segtools.palettes import generate_palette
from segtools.registry import DATASETS


class ToyDataset(BaseSegDataset):
    """Three classes with a known palette, for the subset tests."""

    METAINFO = dict(classes=('a', 'b', 'c'), palette=[[1, 1, 1], [2, 2, 2], [3, 3, 3]])


def write_pair(root, name, mask, img_shape=None, img_suffix='.jpg', seg_suffix='.png'):
    """Write ``root/img/<name><img_suffix>`` (grey) and ``root/ann/<name><seg_suffix>`` (``mask``)."""
    img_path, seg_path = root / 'img' / f'{name}{img_suffix}', root / 'ann' / f'{name}{seg_suffix}'
    img_path.parent.mkdir(parents=True, exist_ok=True)
    seg_path.parent.mkdir(parents=True, exist_ok=True)
    shape = img_shape or (*mask.shape[:2], 3)
    assert cv2.imwrite(str(img_path), np.full(shape, 128, np.uint8))
    assert cv2.imwrite(str(seg_path), mask)
    return img_path, seg_path


def make_dataset(tmp_path, n=3, value=1):
    for i in range(n):
        write_pair(tmp_path, f'im{i}', np.full((6, 8), value, np.uint8))


def build(tmp_path, cls=ToyDataset, **kwargs):
    return cls(data_root=str(tmp_path), data_prefix=dict(img_path='img', seg_map_path='ann'), **kwargs)


def test_scan_entries(tmp_path):
    make_dataset(tmp_path)
    ds = build(tmp_path)
    assert len(ds) == 3
    info = ds.get_data_info(1)
    assert info['img_path'] == str(tmp_path / 'img' / 'im1.jpg')
    assert info['seg_map_path'] == str(tmp_path / 'ann' / 'im1.png')
    assert info['label_map'] is None and info['reduce_zero_label'] is False and info['seg_fields'] == []
    assert ds.num_classes == 3 and ds.metainfo['palette'] == [[1, 1, 1], [2, 2, 2], [3, 3, 3]]


def test_scan_is_recursive_and_sorted(tmp_path):
    write_pair(tmp_path, 'z/b', np.zeros((4, 4), np.uint8))
    write_pair(tmp_path, 'a/c', np.zeros((4, 4), np.uint8))
    ds = build(tmp_path)
    assert [ds.get_data_info(i)['img_path'] for i in range(2)] == [
        str(tmp_path / 'img' / 'a' / 'c.jpg'),
        str(tmp_path / 'img' / 'z' / 'b.jpg'),
    ]


@pytest.mark.parametrize('serialize_data', [True, False])
def test_ann_file_selects_entries(tmp_path, serialize_data):
    make_dataset(tmp_path, n=4)
    (tmp_path / 'split.txt').write_text('im2\n\nim0\n')
    ds = build(tmp_path, ann_file='split.txt', serialize_data=serialize_data)
    assert len(ds) == 2
    assert ds.get_data_info(0)['img_path'].endswith('im2.jpg')


def test_class_subset_builds_label_map_and_palette(tmp_path):
    make_dataset(tmp_path)
    ds = build(tmp_path, metainfo=dict(classes=('c', 'a')))
    assert ds.label_map == {0: 1, 1: 255, 2: 0}
    assert ds.get_data_info(0)['label_map'] == {0: 1, 1: 255, 2: 0}
    assert ds.metainfo['palette'] == [[3, 3, 3], [1, 1, 1]]
    assert ds.num_classes == 2


def test_class_subset_uses_ignore_index(tmp_path):
    make_dataset(tmp_path)
    ds = build(tmp_path, metainfo=dict(classes=('b',)), ignore_index=99)
    assert ds.label_map == {0: 99, 1: 0, 2: 99}


def test_unknown_subset_class_raises(tmp_path):
    make_dataset(tmp_path)
    with pytest.raises(ValueError, match='dog'):
        build(tmp_path, metainfo=dict(classes=('a', 'dog')))


def test_generated_palette_is_deterministic_and_leaves_global_rng(tmp_path):
    make_dataset(tmp_path)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    ds = build(tmp_path, cls=BaseSegDataset, metainfo=dict(classes=('x', 'y')))
    assert np.array_equal(np.random.get_state()[1], before)
    assert ds.metainfo['palette'] == generate_palette(2)
    assert all(0 <= v < 256 for colour in ds.metainfo['palette'] for v in colour)


def test_build_from_registry(tmp_path):
    make_dataset(tmp_path)
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(
            dict(type='BaseSegDataset', data_root=str(tmp_path), data_prefix=dict(img_path='img', seg_map_path='ann'))
        )
    assert isinstance(ds, BaseSegDataset) and len(ds) == 3


def test_misspelt_argument_raises(tmp_path):
    with pytest.raises(TypeError, match='reduce_zero_labels'):
        BaseSegDataset(data_root=str(tmp_path), reduce_zero_labels=True)
    with pytest.raises(TypeError, match='seg_path'):
        BaseSegDataset(data_root=str(tmp_path), data_prefix=dict(img_path='img', seg_path='ann'))


# ----------------------------------------------------------------- bad input


def test_missing_image_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / 'img')):
        build(tmp_path)


def test_empty_image_folder_names_suffix(tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    (tmp_path / 'img' / 'note.txt').write_text('x')
    with pytest.raises(DatasetNotFoundError) as info:
        build(tmp_path)
    msg = str(info.value)
    assert str(tmp_path / 'img') in msg and "'.jpg'" in msg and '.txt' in msg


def test_missing_split_file(tmp_path):
    make_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match='train.txt'):
        build(tmp_path, ann_file='train.txt')


def test_empty_split_file(tmp_path):
    make_dataset(tmp_path)
    (tmp_path / 'train.txt').write_text('\n\n')
    with pytest.raises(DatasetError, match='train.txt'):
        build(tmp_path, ann_file='train.txt')


def test_split_names_missing_image(tmp_path):
    make_dataset(tmp_path)
    (tmp_path / 'split.txt').write_text('im0\nghost\n')
    with pytest.raises(DatasetNotFoundError, match='ghost.jpg'):
        build(tmp_path, ann_file='split.txt')


def test_missing_mask(tmp_path):
    make_dataset(tmp_path)
    (tmp_path / 'ann' / 'im1.png').unlink()
    with pytest.raises(DatasetNotFoundError, match='im1.png'):
        build(tmp_path)


def test_missing_mask_folder_allowed_in_test_mode(tmp_path):
    make_dataset(tmp_path)
    for f in (tmp_path / 'ann').iterdir():
        f.unlink()
    (tmp_path / 'ann').rmdir()
    with pytest.raises(DatasetNotFoundError, match='seg_map_path'):
        build(tmp_path)
    assert len(build(tmp_path, test_mode=True)) == 3


def test_size_mismatch(tmp_path):
    make_dataset(tmp_path)
    write_pair(tmp_path, 'im1', np.zeros((6, 8), np.uint8), img_shape=(7, 8, 3))
    with pytest.raises(DatasetError) as info:
        build(tmp_path)
    msg = str(info.value)
    assert 'im1.png' in msg and 'im1.jpg' in msg and '6x8' in msg and '7x8' in msg


def test_label_out_of_range(tmp_path):
    make_dataset(tmp_path)
    write_pair(tmp_path, 'im2', np.array([[0, 1], [3, 200]], np.uint8))
    with pytest.raises(DatasetError) as info:
        build(tmp_path)
    msg = str(info.value)
    assert 'im2.png' in msg and '[3, 200]' in msg and 'reduce_zero_label' in msg


def test_colour_mask(tmp_path):
    make_dataset(tmp_path)
    colour = np.zeros((6, 8, 3), np.uint8)
    colour[:, :4] = (0, 0, 255)
    write_pair(tmp_path, 'im0', colour)
    with pytest.raises(DatasetError) as info:
        build(tmp_path)
    assert 'im0.png' in str(info.value) and '(255, 0, 0)' in str(info.value)


def test_truncated_image(tmp_path):
    make_dataset(tmp_path)
    path = tmp_path / 'img' / 'im0.jpg'
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DatasetError, match='im0.jpg'):
        build(tmp_path)


def test_validate_sampling_and_off_switch(tmp_path):
    make_dataset(tmp_path, n=5)
    write_pair(tmp_path, 'im2', np.full((6, 8), 9, np.uint8))  # the middle entry is bad
    assert len(build(tmp_path, validate=False)) == 5
    assert len(build(tmp_path, validate=dict(num_samples=2))) == 5  # samples entries 0 and 4 only
    with pytest.raises(DatasetError, match='im2.png'):
        build(tmp_path, validate=dict(num_samples=3))


def test_lazy_init_defers_checks(tmp_path):
    ds = build(tmp_path, lazy_init=True)
    with pytest.raises(DatasetNotFoundError):
        ds.full_init()
