"""ADE20KDataset on a fixture folder: 150 classes, reduce_zero_label (0 -> 255, k -> k-1)."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets.ade import ADE20KDataset
from segtools.datasets.validation import DatasetError, DatasetNotFoundError, map_labels, read_mask
from segtools.registry import DATASETS

PREFIX = dict(img_path='images/training', seg_map_path='annotations/training')


def write_ade(root, masks):
    for name, mask in masks.items():
        (root / 'images/training').mkdir(parents=True, exist_ok=True)
        (root / 'annotations/training').mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / 'images/training' / f'{name}.jpg'), np.zeros((*mask.shape, 3), np.uint8))
        cv2.imwrite(str(root / 'annotations/training' / f'{name}.png'), mask)


def test_ade_reduce_zero_label(tmp_path):
    raw = np.array([[0, 1, 2], [75, 150, 0]], np.uint8)
    write_ade(tmp_path, {'ADE_train_00000001': raw, 'ADE_train_00000002': np.ones((2, 3), np.uint8)})
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(dict(type='ADE20KDataset', data_root=str(tmp_path), data_prefix=PREFIX))
    assert isinstance(ds, ADE20KDataset) and len(ds) == 2
    assert len(ds.metainfo['classes']) == 150 == len(set(ds.metainfo['classes'])) == len(ds.metainfo['palette'])
    info = ds.get_data_info(0)
    assert info['reduce_zero_label'] is True
    labels = map_labels(read_mask(info['seg_map_path']), info['label_map'], info['reduce_zero_label'])
    expected = np.where(raw == 0, 255, raw.astype(np.int64) - 1)
    assert np.array_equal(labels, expected)
    assert labels[labels != 255].max() == 149


def test_ade_value_above_150_is_reported(tmp_path):
    write_ade(tmp_path, {'a': np.array([[0, 151]], np.uint8)})
    with pytest.raises(DatasetError) as info:
        ADE20KDataset(data_root=str(tmp_path), data_prefix=PREFIX)
    assert 'a.png' in str(info.value) and '[151]' in str(info.value)


def test_ade_missing_folder_names_layout_and_converter(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        ADE20KDataset(data_root=str(tmp_path), data_prefix=PREFIX)
    msg = str(info.value)
    assert str(tmp_path / 'images/training') in msg and 'annotations/training' in msg
    assert 'tools/dataset_converters/ade20k.py' in msg
