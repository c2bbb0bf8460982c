"""CityscapesDataset on a fixture city tree: suffixes, trainIds range, labelIds rejected."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets.cityscapes import CityscapesDataset
from segtools.datasets.validation import DatasetError, map_labels, read_mask
from segtools.palettes import CITYSCAPES_PALETTE
from segtools.registry import DATASETS

PREFIX = dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')


def write_city(root, city, stem, train_ids, extra_labelids=True):
    img_dir, ann_dir = root / 'leftImg8bit/train' / city, root / 'gtFine/train' / city
    img_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(img_dir / f'{stem}_leftImg8bit.png'), np.zeros((*train_ids.shape, 3), np.uint8))
    cv2.imwrite(str(ann_dir / f'{stem}_gtFine_labelTrainIds.png'), train_ids)
    if extra_labelids:  # the official files sit next to the converted ones and must not be picked up
        cv2.imwrite(str(ann_dir / f'{stem}_gtFine_labelIds.png'), np.full(train_ids.shape, 26, np.uint8))


def test_cityscapes_train_ids(tmp_path):
    ids = np.array([[0, 18, 255], [13, 7, 0]], np.uint8)
    write_city(tmp_path, 'aachen', 'aachen_000000_000019', ids)
    write_city(tmp_path, 'bremen', 'bremen_000001_000019', ids)
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(dict(type='CityscapesDataset', data_root=str(tmp_path), data_prefix=PREFIX))
    assert isinstance(ds, CityscapesDataset) and len(ds) == 2
    assert len(ds.metainfo['classes']) == 19 and ds.metainfo['palette'] == CITYSCAPES_PALETTE
    assert ds.metainfo['palette'][0] == [128, 64, 128]  # road
    info = ds.get_data_info(1)
    assert info['seg_map_path'] == str(tmp_path / 'gtFine/train/bremen/bremen_000001_000019_gtFine_labelTrainIds.png')
    labels = map_labels(read_mask(info['seg_map_path']), info['label_map'], info['reduce_zero_label'])
    assert np.array_equal(labels, ids)


def test_cityscapes_label_ids_are_rejected(tmp_path):
    write_city(tmp_path, 'aachen', 'aachen_000000_000019', np.zeros((2, 2), np.uint8))
    with pytest.raises(DatasetError) as info:
        CityscapesDataset(data_root=str(tmp_path), data_prefix=PREFIX, seg_map_suffix='_gtFine_labelIds.png')
    assert 'aachen_000000_000019_gtFine_labelIds.png' in str(info.value) and '[26]' in str(info.value)
