"""COCOStuffDataset on fixture masks: 171 classes, ``_labelTrainIds.png`` masks."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets.coco_stuff import COCOStuffDataset
from segtools.datasets.validation import DatasetError, map_labels, read_mask
from segtools.registry import DATASETS

PREFIX = dict(img_path='images/val2017', seg_map_path='annotations/val2017')


def write_coco(root, mask):
    for folder in PREFIX.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / 'images/val2017/000000000139.jpg'), np.zeros((*mask.shape, 3), np.uint8))
    cv2.imwrite(str(root / 'annotations/val2017/000000000139_labelTrainIds.png'), mask)


def test_coco_stuff(tmp_path):
    mask = np.array([[0, 170], [255, 80]], np.uint8)
    write_coco(tmp_path, mask)
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(dict(type='COCOStuffDataset', data_root=str(tmp_path), data_prefix=PREFIX))
    assert isinstance(ds, COCOStuffDataset) and len(ds) == 1
    classes = ds.metainfo['classes']
    assert len(classes) == 171 == len(set(classes)) == len(ds.metainfo['palette'])
    assert classes[0] == 'person' and classes[80] == 'banner' and classes[-1] == 'wood'
    info = ds.get_data_info(0)
    assert np.array_equal(map_labels(read_mask(info['seg_map_path']), info['label_map'], False), mask)


def test_coco_stuff_rejects_sparse_ids(tmp_path):
    write_coco(tmp_path, np.array([[171, 181]], np.uint8))
    with pytest.raises(DatasetError, match=r'000000000139_labelTrainIds\.png.*\[171, 181\]'):
        COCOStuffDataset(data_root=str(tmp_path), data_prefix=PREFIX)
