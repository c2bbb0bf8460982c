"""PascalContextDataset59: the same masks as the 60-class set, background reduced to ignore."""

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from segtools.datasets.pascal_context import PascalContextDataset
from segtools.datasets.pascal_context59 import PascalContextDataset59
from segtools.datasets.validation import DatasetError, map_labels, read_mask
from segtools.registry import DATASETS

PREFIX = dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext')


def write_context(root, raw):
    for folder in PREFIX.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / 'JPEGImages' / 'x.jpg'), np.zeros((*raw.shape, 3), np.uint8))
    cv2.imwrite(str(root / 'SegmentationClassContext' / 'x.png'), raw)


def test_pascal_context59_vs_60(tmp_path):
    raw = np.array([[0, 1, 59], [30, 0, 2]], np.uint8)
    write_context(tmp_path, raw)
    with DefaultScope.overwrite_default_scope('segtools'):
        ds59 = DATASETS.build(dict(type='PascalContextDataset59', data_root=str(tmp_path), data_prefix=PREFIX))
    ds60 = PascalContextDataset(data_root=str(tmp_path), data_prefix=PREFIX)
    assert isinstance(ds59, PascalContextDataset59) and len(ds59) == len(ds60) == 1
    assert ds59.metainfo['classes'] == ds60.metainfo['classes'][1:] and len(ds59.metainfo['classes']) == 59
    assert ds59.metainfo['palette'] == ds60.metainfo['palette'][1:]

    def labels(ds):
        info = ds.get_data_info(0)
        return map_labels(read_mask(info['seg_map_path']), info['label_map'], info['reduce_zero_label'])

    l59, l60 = labels(ds59), labels(ds60)
    assert np.array_equal(l59, np.where(l60 == 0, 255, l60 - 1))
    # The same class name has id k in the 60-class set and k-1 in the 59-class one.
    for k in (1, 2, 30, 59):
        assert ds60.metainfo['classes'][k] == ds59.metainfo['classes'][k - 1]


def test_pascal_context59_rejects_60(tmp_path):
    write_context(tmp_path, np.array([[0, 60]], np.uint8))
    with pytest.raises(DatasetError, match=r'x\.png.*\[60\]'):
        PascalContextDataset59(data_root=str(tmp_path), data_prefix=PREFIX)
