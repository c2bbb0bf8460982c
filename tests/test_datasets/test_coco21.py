"""COCO21Dataset over converted PNGs: VOC's 21 classes."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets.coco21 import COCO21Dataset
from segtools.datasets.validation import DatasetError, map_labels, read_mask
from segtools.datasets.voc import PascalVOCDataset
from segtools.registry import DATASETS

PREFIX = dict(img_path='train2017', seg_map_path='annotations21/train2017')


def write_coco21(root, masks):
    for folder in PREFIX.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, mask in masks.items():
        cv2.imwrite(str(root / 'train2017' / f'{name}.jpg'), np.zeros((*mask.shape, 3), np.uint8))
        cv2.imwrite(str(root / 'annotations21/train2017' / f'{name}.png'), mask)


def test_coco21(tmp_path):
    mask = np.array([[0, 20], [15, 1]], np.uint8)
    write_coco21(tmp_path, {'000000000009': mask, '000000000025': mask})
    with DefaultScope.overwrite_default_scope('segtools'):
        ds = DATASETS.build(dict(type='COCO21Dataset', data_root=str(tmp_path), data_prefix=PREFIX))
    assert isinstance(ds, COCO21Dataset) and len(ds) == 2
    assert ds.metainfo['classes'] == PascalVOCDataset.METAINFO['classes']
    assert ds.metainfo['palette'] == PascalVOCDataset.METAINFO['palette']
    info = ds.get_data_info(0)
    assert np.array_equal(map_labels(read_mask(info['seg_map_path']), info['label_map'], False), mask)


def test_coco21_rejects_coco_category_ids(tmp_path):
    write_coco21(tmp_path, {'000000000009': np.array([[0, 44]], np.uint8)})  # 44 = COCO's raw "bottle" id
    with pytest.raises(DatasetError, match=r'000000000009\.png.*\[44\]'):
        COCO21Dataset(data_root=str(tmp_path), data_prefix=PREFIX)
